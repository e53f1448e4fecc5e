"""Reactions to other services' events: merges, churn warnings, timeline.

The customer copy itself is kept by `crm_common.customers.copies` (wired in
``adapters/events.py``); these run after it. Every handler is idempotent on its own (the
consumer also skips event ids it applied): a redelivered event must never duplicate a timeline
entry or a retention follow-up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from crm_common.clock import utc_now
from crm_common.events.contracts.customer import (
    ContactAdded,
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerOwnerChanged,
    CustomerStatusChanged,
)
from crm_common.events.contracts.insights import ChurnRiskRaised
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_engagement.domain.care import WITHDRAWN_DELETED, withdrawal_reason
from crm_engagement.domain.followup import (
    FollowUp,
    FollowUpOrigin,
    FollowUpStatus,
    FollowUpType,
    Priority,
    remind_time,
    retention_goal,
)
from crm_engagement.service.base import EVENT_SOURCE
from crm_engagement.service.care import start_plan, withdraw_care
from crm_engagement.service.followups import scheduled_event_payload
from crm_engagement.service.ports import TenantStores
from crm_engagement.service.timeline import record_in_timeline

log = logging.getLogger(__name__)

RETENTION_DUE_IN = timedelta(days=1)
DEAL = "DEAL"  # the customer lifecycle status that starts the care plan
SYSTEM_ACTOR = "system:engagement"


class Reactions:
    def __init__(
        self, stores_for: Callable[[str], TenantStores], notify_outbox: Callable[[], None]
    ) -> None:
        self._stores_for = stores_for
        self._notify_outbox = notify_outbox

    async def any_event(self, event: CloudEvent) -> None:
        """Every event of every topic lands in its customer's timeline."""
        await record_in_timeline(event, self._stores_for(event.tenant_id).timeline)

    async def customer_merged(self, event: CloudEvent, payload: CustomerMerged) -> None:
        """Everything recorded for the merged customer now belongs to the kept one."""
        stores = self._stores_for(event.tenant_id)
        kept, merged = payload.kept_id, payload.merged_id
        moved = await stores.records.repoint(merged, kept)
        latest = await stores.interactions.latest_for(kept)
        if latest is not None:
            await stores.customers.touch_last_interaction(kept, latest)
        log.info("customer merged; records re-pointed", extra={"kept": kept, **moved})
        await record_in_timeline(event, stores.timeline)

    async def customer_created(self, event: CloudEvent, payload: CustomerCreated) -> None:
        """Registered with contacts: the 24-hour contact rule is met before any touch."""
        stores = self._stores_for(event.tenant_id)
        if payload.contact_ids:
            await stores.customers.note_contact(payload.customer_id, payload.created_at)
        if payload.status == DEAL:  # e.g. imported as a deal: cared for from the start
            await self._care_plan(event, payload.customer_id, payload.created_at)
        await record_in_timeline(event, stores.timeline)

    async def customer_status_changed(
        self, event: CloudEvent, payload: CustomerStatusChanged
    ) -> None:
        """A customer became a deal: its owner gets the long-term care visit plan. A deal
        lost (churned): the plan is withdrawn, its unfinished visits cancelled."""
        if payload.to_status == DEAL and payload.from_status != DEAL:
            await self._care_plan(event, payload.customer_id, payload.changed_at)
        reason = withdrawal_reason(payload.from_status, payload.to_status)
        if reason is not None:
            await withdraw_care(
                self._stores_for(event.tenant_id),
                customer_id=payload.customer_id,
                lost_at=payload.changed_at,
                reason=reason,
                now=utc_now(),
            )
        await record_in_timeline(event, self._stores_for(event.tenant_id).timeline)

    async def customer_deleted(self, event: CloudEvent, payload: CustomerDeleted) -> None:
        """A deleted customer is cared for no more: its plans are withdrawn like a churn's
        (a restore does not bring them back; a new deal makes a new plan)."""
        stores = self._stores_for(event.tenant_id)
        await withdraw_care(
            stores,
            customer_id=payload.customer_id,
            lost_at=payload.deleted_at,
            reason=WITHDRAWN_DELETED,
            now=utc_now(),
        )
        await record_in_timeline(event, stores.timeline)

    async def _care_plan(self, event: CloudEvent, customer_id: str, deal_at: datetime) -> None:
        created = await start_plan(
            self._stores_for(event.tenant_id),
            tenant_id=event.tenant_id,
            customer_id=customer_id,
            deal_event_id=event.id,
            deal_at=deal_at,
            now=utc_now(),
        )
        if created:
            self._notify_outbox()
            log.info("care plan started", extra={"customer": customer_id, "visits": created})

    async def customer_owner_changed(
        self, event: CloudEvent, payload: CustomerOwnerChanged
    ) -> None:
        """The new owner takes over the customer's care: the plan's next rounds and the
        visits not yet done that the old owner had (visits someone else was given stay)."""
        stores = self._stores_for(event.tenant_id)
        moved = await stores.care.hand_over(
            payload.customer_id, payload.from_owner_id, payload.to_owner_id
        )
        if moved:
            log.info(
                "care visits handed over", extra={"customer": payload.customer_id, "visits": moved}
            )
        await record_in_timeline(event, stores.timeline)

    async def contact_added(self, event: CloudEvent, payload: ContactAdded) -> None:
        """A contact person registered: when, for the 24-hour contact rule."""
        stores = self._stores_for(event.tenant_id)
        await stores.customers.note_contact(payload.customer_id, payload.at)
        await record_in_timeline(event, stores.timeline)

    async def churn_risk_raised(self, event: CloudEvent, payload: ChurnRiskRaised) -> None:
        """One high-priority retention follow-up for the owner per raise (keyed by the event)."""
        stores = self._stores_for(event.tenant_id)
        await record_in_timeline(event, stores.timeline)
        customer = await stores.customers.get(payload.customer_id)
        owner = payload.owner_id or (customer.owner_id if customer else None)
        if owner is None:
            log.warning(
                "churn risk for an unknown customer", extra={"customer": payload.customer_id}
            )
            return
        settings = await stores.settings.get()
        due_at = payload.raised_at + RETENTION_DUE_IN
        task = FollowUp(
            # Derived from the raise, so a redelivery finds the same task instead of a second.
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm:churn-retention:{event.id}")),
            tenant_id=event.tenant_id,
            customer_id=payload.customer_id,
            type=FollowUpType.PHONE_CALL,
            due_at=due_at,
            remind_at=remind_time(due_at, settings),
            priority=Priority.HIGH,
            goal=retention_goal(payload.score, payload.drivers),
            assignee_id=owner,
            status=FollowUpStatus.OPEN,
            created_by=SYSTEM_ACTOR,
            created_at=event.time,
            origin=FollowUpOrigin.CHURN_RISK,
            origin_event_id=event.id,
        )
        scheduled = new_event(
            scheduled_event_payload(task),
            source=EVENT_SOURCE,
            tenant_id=event.tenant_id,
            key=task.customer_id,
        )
        if await stores.followups.add(task, [scheduled]):
            self._notify_outbox()
