"""Reactions to events: merges, orders from accepted quotes, surveys to send.

The customer copy itself is kept by `crm_common.customers.copies` (wired in
``adapters/events.py``); a merge then re-points the service records here.
"""

from __future__ import annotations

from collections.abc import Callable

from crm_common.clock import utc_now
from crm_common.events.contracts.customer import CustomerMerged
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.contracts.servicedesk import (
    ServiceOrderDelivered,
    SurveyResponded,
    TicketOpened,
    TicketResolved,
)
from crm_common.events.envelope import CloudEvent
from crm_service_desk.domain.survey import SurveySubject
from crm_service_desk.service.improvement import open_from_complaint, open_from_survey
from crm_service_desk.service.orders import open_from_quote
from crm_service_desk.service.ports import (
    CustomerRecords,
    ImprovementTaskRepository,
    OrderRepository,
    SurveyLinkSender,
    SurveyRepository,
    TaskRouting,
)
from crm_service_desk.service.surveys import send_survey


class Reactions:
    """Use cases run by events; the factories bind a repository to the event's tenant."""

    def __init__(
        self,
        orders: Callable[[str], OrderRepository],
        surveys: Callable[[str], SurveyRepository],
        sender: SurveyLinkSender,
        survey_base_url: str,
        notify_outbox: Callable[[], None],
        records: Callable[[str], CustomerRecords],
        tasks: Callable[[str], ImprovementTaskRepository],
        routing: Callable[[str], TaskRouting],
    ) -> None:
        self._tasks = tasks
        self._routing = routing
        self._records = records
        self._orders = orders
        self._surveys = surveys
        self._sender = sender
        self._base_url = survey_base_url
        self._notify = notify_outbox

    async def customer_merged(self, event: CloudEvent, payload: CustomerMerged) -> None:
        """Re-point tickets, orders, surveys and breaches; applying it again moves nothing."""
        await self._records(event.tenant_id).repoint(payload.merged_id, payload.kept_id)

    async def quote_accepted(self, event: CloudEvent, payload: QuoteAccepted) -> None:
        if await open_from_quote(
            event.tenant_id, payload, self._orders(event.tenant_id), utc_now()
        ):
            self._notify()

    async def survey_responded(self, event: CloudEvent, payload: SurveyResponded) -> None:
        """A low answer (a dimension at 1 or 2) opens an improvement task, once per survey."""
        tenant = event.tenant_id
        task = await open_from_survey(
            tenant, payload, self._tasks(tenant), self._routing(tenant), utc_now()
        )
        if task is not None:
            self._notify()

    async def ticket_opened(self, event: CloudEvent, payload: TicketOpened) -> None:
        """A complaint ticket opens an improvement task, once per ticket."""
        tenant = event.tenant_id
        task = await open_from_complaint(
            tenant, payload, self._tasks(tenant), self._routing(tenant), utc_now()
        )
        if task is not None:
            self._notify()

    async def ticket_resolved(self, event: CloudEvent, payload: TicketResolved) -> None:
        await self._send(event, payload.customer_id, SurveySubject.TICKET, payload.ticket_id)

    async def order_delivered(self, event: CloudEvent, payload: ServiceOrderDelivered) -> None:
        await self._send(event, payload.customer_id, SurveySubject.SERVICE_ORDER, payload.order_id)

    async def _send(
        self, event: CloudEvent, customer_id: str, subject: SurveySubject, subject_id: str
    ) -> None:
        survey = await send_survey(
            event.tenant_id,
            customer_id,
            subject,
            subject_id,
            self._surveys(event.tenant_id),
            self._sender,
            self._base_url,
            utc_now(),
        )
        if survey is not None:
            self._notify()
