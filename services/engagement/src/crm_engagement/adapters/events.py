"""Wires the events engagement consumes to its reactions.

Engagement subscribes to every service topic. The customer events that change what it copies
of customers go to the shared customer copy (`crm_common.customers.copies`) first, then into the
timeline (a merge also re-points the merged customer's records); typed handlers react to the
few other events that change its own records, and the consumer's fallback puts every other
event (even of types that have no contract yet) into the customer timeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.customers.copies import CustomerCopy, customer_copy_handlers
from crm_common.events.consumer import FallbackHandler, Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import (
    ContactAdded,
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerOwnerChanged,
    CustomerStatusChanged,
)
from crm_common.events.contracts.customer_cadence import CustomerCadenceChanged
from crm_common.events.contracts.engagement import NotificationCreated
from crm_common.events.contracts.insights import ChurnRiskRaised
from crm_common.events.envelope import CloudEvent
from crm_common.events.topics import SERVICES, service_topic
from crm_common.mongo import Document
from crm_common.tenants import TenantZones, tenant_settings_handlers
from crm_engagement.adapters.mongo import (
    MongoActivityRepository,
    MongoCareRepository,
    MongoCustomerRefs,
    MongoFollowUpRepository,
    MongoInteractionRepository,
    MongoSettingsRepository,
    MongoTimelineRepository,
    customer_records,
)
from crm_engagement.adapters.notifications import (
    MongoNotificationPreferences,
    MongoNotificationRepository,
)
from crm_engagement.service.notifications import NotificationInbox, NotificationStores
from crm_engagement.service.ports import TenantStores
from crm_engagement.service.reactions import Reactions

SUBSCRIBED_TOPICS = [service_topic(s) for s in SERVICES]


def handlers(
    reactions: Reactions,
    copies: Callable[[str], CustomerCopy],
    then: Callable[[CloudEvent], Awaitable[object]] | None = None,
) -> tuple[dict[str, Handler], FallbackHandler]:
    """The typed handlers and the fallback; ``then`` (the notification inbox) runs after
    each of them, for every event (it picks the types it notifies about itself)."""

    async def customer_merged(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerMerged)
        await reactions.customer_merged(event, payload)

    async def customer_created(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerCreated)
        await reactions.customer_created(event, payload)

    async def status_changed(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerStatusChanged)
        await reactions.customer_status_changed(event, payload)

    async def customer_deleted(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerDeleted)
        await reactions.customer_deleted(event, payload)

    async def owner_changed(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerOwnerChanged)
        await reactions.customer_owner_changed(event, payload)

    async def contact_added(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, ContactAdded)
        await reactions.contact_added(event, payload)

    async def into_timeline(event: CloudEvent, _: EventData) -> None:
        await reactions.any_event(event)

    async def churn_risk_raised(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, ChurnRiskRaised)
        await reactions.churn_risk_raised(event, payload)

    async def cadence_changed(event: CloudEvent, payload: EventData) -> None:
        """The customer's follow-up cadence, kept on the copy for the proposals (a late,
        older announcement does not replace a newer one), then into the timeline."""
        assert isinstance(payload, CustomerCadenceChanged)
        older = {
            "$or": [
                {"engagement_cadence_at": None},
                {"engagement_cadence_at": {"$lt": payload.changed_at}},
            ]
        }
        await copies(event.tenant_id).set_local(
            payload.customer_id,
            {"engagement_cadence": payload.cadence, "engagement_cadence_at": payload.changed_at},
            only_if=older,
        )
        await reactions.any_event(event)

    async def nothing(_: CloudEvent, __: EventData) -> None:
        """Inbox events are about a user, not a customer: not for the timeline."""

    typed: dict[str, Handler] = {
        **customer_copy_handlers(
            copies,
            {
                CustomerMerged.event_type: customer_merged,
                CustomerCreated.event_type: customer_created,
                CustomerStatusChanged.event_type: status_changed,
                CustomerOwnerChanged.event_type: owner_changed,
                CustomerDeleted.event_type: customer_deleted,
            },
            default=into_timeline,
        ),
        ContactAdded.event_type: contact_added,
        ChurnRiskRaised.event_type: churn_risk_raised,
        CustomerCadenceChanged.event_type: cadence_changed,
        NotificationCreated.event_type: nothing,
    }
    if then is None:
        return typed, reactions.any_event
    after = then

    def followed(handler: Handler) -> Handler:
        async def handle(event: CloudEvent, payload: EventData) -> None:
            await handler(event, payload)
            await after(event)

        return handle

    async def fallback(event: CloudEvent) -> None:
        await reactions.any_event(event)
        await after(event)

    return {name: followed(h) for name, h in typed.items()}, fallback


def tenant_stores(db: AsyncDatabase[Document], zones: TenantZones, tenant_id: str) -> TenantStores:
    return TenantStores(
        customers=MongoCustomerRefs(db, tenant_id),
        interactions=MongoInteractionRepository(db, tenant_id),
        followups=MongoFollowUpRepository(db, tenant_id),
        activities=MongoActivityRepository(db, tenant_id),
        timeline=MongoTimelineRepository(db, tenant_id),
        settings=MongoSettingsRepository(db, tenant_id),
        records=customer_records(db, tenant_id),
        care=MongoCareRepository(db, tenant_id),
        zone=partial(zones.zone_of, tenant_id),
    )


def notification_stores(db: AsyncDatabase[Document], tenant_id: str) -> NotificationStores:
    return NotificationStores(
        notifications=MongoNotificationRepository(db, tenant_id),
        preferences=MongoNotificationPreferences(db, tenant_id),
        customers=MongoCustomerRefs(db, tenant_id),
    )


def consumer_handlers(
    db: AsyncDatabase[Document], notify: Callable[[], None], zones: TenantZones
) -> tuple[dict[str, Handler], FallbackHandler]:
    """The consumer's reactions, bound to ``db`` (live, or a rebuild: `adapters.replay`):
    copy, timeline, care plans, retention follow-ups, then the notification inbox, and the
    tenant settings copy. The e-mail handler is added by `build_app` (sending is no read
    model: a replay leaves it out)."""
    reactions = Reactions(partial(tenant_stores, db, zones), notify)
    inbox = NotificationInbox(partial(notification_stores, db), notify)
    typed, fallback = handlers(
        reactions, lambda tenant: CustomerCopy(db, tenant), then=inbox.on_event
    )
    # The tenant's settings copy (time zone): not a customer event, so not in the timeline.
    return {**typed, **tenant_settings_handlers(db, zones)}, fallback
