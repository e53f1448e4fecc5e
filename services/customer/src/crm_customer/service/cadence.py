"""The customer's follow-up cadence and observation period (`domain.cadence`): the manual
decision, the carry-over on a merge, reads for the API (field, list filter), the reactions to
quoting's assessments and stalls and to engagement's interactions, and the rebuild's
application of the service's own announced decisions (manual, merge)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import NotFound
from crm_common.events.contracts.customer_cadence import (
    CadenceHistoryEntry,
    CustomerCadenceChanged,
)
from crm_common.events.contracts.engagement import InteractionLogged
from crm_common.events.contracts.quoting import OpportunityAssessed, OpportunityStalled
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_common.limits import check_limit, list_limits
from crm_customer.domain import permissions
from crm_customer.domain.cadence import (
    Cadence,
    CadenceChange,
    CadenceReason,
    CadenceSource,
    CustomerCadence,
    after_assessment,
    after_interaction,
    after_merge,
    after_stall,
    default_cadence,
    manual_change,
    recorded_change,
    state_of,
    took_merged_state,
)
from crm_customer.domain.customer import Customer
from crm_customer.service.customers import EVENT_SOURCE, SAVE_ATTEMPTS
from crm_customer.service.ports import CustomerRepository

log = logging.getLogger(__name__)


class CadenceRepository(Protocol):
    async def get(self, customer_id: str) -> CustomerCadence | None: ...

    async def get_many(self, customer_ids: Sequence[str]) -> dict[str, CustomerCadence]: ...

    async def ids_with(self, cadence: Cadence, limit: int) -> list[str]: ...

    async def save(
        self, before: CustomerCadence, after: CustomerCadence, events: Sequence[CloudEvent]
    ) -> bool: ...


Compute = Callable[[CustomerCadence], CustomerCadence | None]


def _entry_data(change: CadenceChange) -> CadenceHistoryEntry:
    return CadenceHistoryEntry(
        cadence=change.cadence.value,
        reason=change.reason.value,
        source=change.source.value,
        at=change.at,
        actor_id=change.actor_id,
        opportunity_id=change.opportunity_id,
        note=change.note,
        merged_from=change.merged_from,
    )


def _entry(data: CadenceHistoryEntry) -> CadenceChange:
    return CadenceChange(
        cadence=Cadence(data.cadence),
        reason=CadenceReason(data.reason),
        source=CadenceSource(data.source),
        at=data.at,
        actor_id=data.actor_id,
        opportunity_id=data.opportunity_id,
        note=data.note,
        merged_from=data.merged_from,
    )


def announcement(
    customer: Customer, before: CustomerCadence, after: CustomerCadence
) -> CustomerCadenceChanged:
    """The ``cadence_changed`` of a stored change (a merge's carries what it carried over)."""
    change = after.history[-1]
    merge: dict[str, object] = {}
    if change.source is CadenceSource.MERGE:
        carried = after.history[len(before.history) : -1]
        merge = {
            "merged_from": change.merged_from,
            "since": after.since,
            "took_merged_state": took_merged_state(before, after),
            "state_after": _entry_data(state_of(after)),
            "carried_history": [_entry_data(c) for c in carried],
        }
    return CustomerCadenceChanged(
        customer_id=customer.id,
        owner_id=customer.owner_id,
        team=customer.team,
        cadence=after.cadence.value,
        previous_cadence=before.cadence.value,
        reason=change.reason.value,
        source=change.source.value,
        opportunity_id=change.opportunity_id,
        note=change.note,
        actor_id=change.actor_id,
        changed_at=change.at,
        **merge,
    )


async def change_cadence(
    tenant_id: str,
    customer: Customer,
    cadences: CadenceRepository,
    compute: Compute,
    now: datetime,
) -> CustomerCadence | None:
    """Load, compute, store conditionally with the ``cadence_changed`` event; retry a lost
    race. None when the rule changes nothing."""
    for _ in range(SAVE_ATTEMPTS):
        before = await cadences.get(customer.id) or default_cadence(customer.id, now)
        after = compute(before)
        if after is None:
            return None
        payload = announcement(customer, before, after)
        event = new_event(payload, source=EVENT_SOURCE, tenant_id=tenant_id, key=customer.id)
        if await cadences.save(before, after, [event]):
            return after
    raise RuntimeError("the customer's cadence kept changing")


async def carry_on_merge(
    tenant_id: str,
    kept: Customer,
    merged: Customer,
    cadences: CadenceRepository,
    actor_id: str,
    now: datetime,
) -> CustomerCadence | None:
    """``merged`` is being merged into ``kept``: carry its cadence over (`after_merge`) and
    announce it. Idempotent: a repeated merge call, or a second replica finishing the same
    merge, finds the carry in the kept customer's history and changes nothing."""
    merged_cadence = await cadences.get(merged.id)
    if merged_cadence is None:
        return None
    return await change_cadence(
        tenant_id,
        kept,
        cadences,
        lambda current: after_merge(current, merged_cadence, actor_id=actor_id, at=now),
        now,
    )


class CadenceService:
    """Use cases for one request's principal (repositories bound to its tenant)."""

    def __init__(
        self,
        principal: Principal,
        cadences: CadenceRepository,
        customers: CustomerRepository,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._cadences = cadences
        self._customers = customers
        self._notify_outbox = notify_outbox
        self._clock = clock

    async def of_many(self, customer_ids: Sequence[str]) -> dict[str, CustomerCadence]:
        """The cadences of customers the caller was shown already (missing: NORMAL)."""
        return await self._cadences.get_many(customer_ids)

    async def ids_with(self, cadence: Cadence) -> list[str]:
        """Every customer id of the tenant at this cadence (the list filter), bounded."""
        limit = list_limits().max_report_customers
        ids = await self._cadences.ids_with(cadence, limit + 1)
        check_limit(
            len(ids),
            limit,
            f"the customers at cadence {cadence.value}",
            "CRM_MAX_REPORT_CUSTOMERS",
            "combine with other filters in a report, or raise the limit",
            field="filter.engagementCadence",
        )
        return ids

    async def set_manually(self, customer_id: str, cadence: Cadence, reason: str) -> Customer:
        """A person's decision, with a reason (kept in the cadence history, announced)."""
        visible = await self._customers.get_many(
            [customer_id], permissions.visibility(self._principal)
        )
        customer = visible.get(customer_id)
        if customer is None or customer.is_tombstone:
            raise NotFound("no such customer", field="input.customerId")
        permissions.can_write(self._principal, customer)
        now = self._clock()
        await change_cadence(
            self._principal.tenant_id,
            customer,
            self._cadences,
            lambda current: manual_change(
                current, cadence, reason, actor_id=self._principal.user_id, at=now
            ),
            now,
        )
        self._notify_outbox()
        return customer


# ---- reactions to other services' events ----------------------------------------------------


class CadenceReactions:
    """Consumer side: one instance per process, repositories made per event tenant."""

    def __init__(
        self,
        cadences_for: Callable[[str], CadenceRepository],
        customers_for: Callable[[str], CustomerRepository],
        notify_outbox: Callable[[], None],
    ) -> None:
        self._cadences_for = cadences_for
        self._customers_for = customers_for
        self._notify_outbox = notify_outbox

    async def _apply(self, event: CloudEvent, customer_id: str, compute: Compute) -> None:
        customer = await self._customers_for(event.tenant_id).get(customer_id)
        if customer is None:
            log.info("cadence event for an unknown customer", extra={"event_id": event.id})
            return
        # A merged customer's cadence is still recorded (under its own id, as it was before
        # the merge): whether an event is applied must not depend on when it is applied, or
        # a rebuild by replay (`adapters.replay`) would differ from live.
        changed = await change_cadence(
            event.tenant_id, customer, self._cadences_for(event.tenant_id), compute, utc_now()
        )
        if changed is not None:
            self._notify_outbox()

    async def on_recorded(self, event: CloudEvent, payload: CustomerCadenceChanged) -> None:
        """The rebuild only (`adapters.replay`): a manual decision or a merge the service
        announced, applied again from the topic (`domain.cadence.recorded_change`). Nothing is
        announced (live did). The automatic changes are re-derived from their own topics."""
        try:
            source = CadenceSource(payload.source)
            change = CadenceChange(
                cadence=Cadence(payload.cadence),
                reason=CadenceReason(payload.reason),
                source=source,
                at=payload.changed_at,
                actor_id=payload.actor_id,
                opportunity_id=payload.opportunity_id,
                note=payload.note,
                merged_from=payload.merged_from,
            )
            carried = tuple(_entry(c) for c in payload.carried_history)
            state = _entry(payload.state_after) if payload.state_after is not None else None
        except ValueError:
            log.warning("unknown cadence in an announcement", extra={"event_id": event.id})
            return
        if source not in (CadenceSource.MANUAL, CadenceSource.MERGE):
            return
        cadences = self._cadences_for(event.tenant_id)
        for _ in range(SAVE_ATTEMPTS):
            before = await cadences.get(payload.customer_id) or default_cadence(
                payload.customer_id, payload.changed_at
            )
            after = recorded_change(before, change, state=state, carried=carried)
            if after is None or await cadences.save(before, after, []):
                return
        raise RuntimeError("the customer's cadence kept changing")

    async def on_assessed(self, event: CloudEvent, payload: OpportunityAssessed) -> None:
        try:
            cadence, reason = Cadence(payload.cadence), CadenceReason(payload.reason)
        except ValueError:
            log.warning("unknown cadence in an assessment", extra={"event_id": event.id})
            return
        await self._apply(
            event,
            payload.customer_id,
            lambda current: after_assessment(
                current,
                cadence,
                reason,
                opportunity_id=payload.opportunity_id,
                actor_id=payload.actor_id,
                at=payload.assessed_at,
            ),
        )

    async def on_stalled(self, event: CloudEvent, payload: OpportunityStalled) -> None:
        await self._apply(
            event,
            payload.customer_id,
            lambda current: after_stall(
                current, opportunity_id=payload.opportunity_id, at=payload.stalled_at
            ),
        )

    async def on_interaction(self, event: CloudEvent, payload: InteractionLogged) -> None:
        cadences = self._cadences_for(event.tenant_id)
        current = await cadences.get(payload.customer_id)
        if current is None or not current.in_observation:
            return  # the common case: one read, nothing to do
        await self._apply(
            event,
            payload.customer_id,
            lambda current: after_interaction(
                current, occurred_at=payload.occurred_at, actor_id=payload.owner_id
            ),
        )
