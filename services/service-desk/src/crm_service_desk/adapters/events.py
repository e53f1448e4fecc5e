"""Wires the events the service desk consumes to its reactions.

Besides other services' topics it reads its own: a resolved ticket or a delivered order is
announced by an event stored with the change (outbox), and the survey is sent from that event,
so a crash between the two can never lose the survey. Likewise a low survey answer or a complaint
ticket opens its improvement task from its own event. Every customer event that changes what
the desk copies of customers (the current owner and team decide which sales rep sees which
tickets) goes to the shared customer copy (`crm_common.customers.copies`) first; a merge then
re-points tickets, orders, surveys and breaches.
"""

from __future__ import annotations

from collections.abc import Callable

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.customers.copies import CustomerCopy, customer_copy_handlers
from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerMerged
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.contracts.servicedesk import (
    ServiceOrderDelivered,
    SurveyResponded,
    TicketOpened,
    TicketResolved,
)
from crm_common.events.envelope import CloudEvent
from crm_common.mongo import Document
from crm_common.tenants import TenantZones, tenant_settings_handlers
from crm_service_desk.adapters.improvement import MongoImprovementTaskRepository, MongoTaskRouting
from crm_service_desk.adapters.mongo import (
    LoggingSurveyLinkSender,
    MongoOrderRepository,
    MongoSurveyRepository,
    customer_records,
)
from crm_service_desk.service.reactions import Reactions

SUBSCRIBED_TOPICS = ["crm.customer.v1", "crm.quoting.v1", "crm.servicedesk.v1"]


def handlers(reactions: Reactions, copies: Callable[[str], CustomerCopy]) -> dict[str, Handler]:
    async def customer_merged(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerMerged)
        await reactions.customer_merged(event, payload)

    async def quote_accepted(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, QuoteAccepted)
        await reactions.quote_accepted(event, payload)

    async def ticket_resolved(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, TicketResolved)
        await reactions.ticket_resolved(event, payload)

    async def order_delivered(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, ServiceOrderDelivered)
        await reactions.order_delivered(event, payload)

    async def survey_responded(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, SurveyResponded)
        await reactions.survey_responded(event, payload)

    async def ticket_opened(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, TicketOpened)
        await reactions.ticket_opened(event, payload)

    return {
        **customer_copy_handlers(copies, {CustomerMerged.event_type: customer_merged}),
        QuoteAccepted.event_type: quote_accepted,
        TicketResolved.event_type: ticket_resolved,
        ServiceOrderDelivered.event_type: order_delivered,
        SurveyResponded.event_type: survey_responded,
        TicketOpened.event_type: ticket_opened,
    }


def consumer_handlers(
    db: AsyncDatabase[Document],
    notify: Callable[[], None],
    survey_base_url: str,
    zones: TenantZones,
) -> dict[str, Handler]:
    """The consumer's handlers bound to ``db`` (live, or a rebuild: `adapters.replay`);
    ``zones`` is the process's settings cache (the applying replica forgets its entry)."""
    reactions = Reactions(
        orders=lambda tenant: MongoOrderRepository(db, tenant),
        surveys=lambda tenant: MongoSurveyRepository(db, tenant),
        sender=LoggingSurveyLinkSender(),
        survey_base_url=survey_base_url,
        notify_outbox=notify,
        records=lambda tenant: customer_records(db, tenant),
        tasks=lambda tenant: MongoImprovementTaskRepository(db, tenant),
        routing=lambda tenant: MongoTaskRouting(db, tenant),
    )

    def copies(tenant: str) -> CustomerCopy:
        return CustomerCopy(db, tenant)

    # The tenant's settings copy (crm_common.tenants): time zone and role permissions.
    return {**handlers(reactions, copies), **tenant_settings_handlers(db, zones)}
