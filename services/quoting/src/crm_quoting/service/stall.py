"""Stalled opportunities: no decision progress noted for the tenant's observation period.

An assessed opportunity carries ``progress_due_at`` (its last assessment noting decision
progress, or its first assessment, plus the tenant's ``observation_after_days``). When that
time passes, the holder of the ``quoting.opportunity-stall`` lease announces
``opportunity_stalled`` (the customer service moves the customer into the observation period)
and clears the due time, in one conditional update that carries the event (outbox). A closed
opportunity found due is only cleared.

Replicas: as for quote expiry (`service/expiry.py`, docs/architecture.md "Replicas"): one
lease holder at a time, and the event id is derived from (tenant, opportunity, due time), so
two replicas racing through a lease handover announce one fact. The loop is a
`crm_common.scheduling.DueLoop`: woken by local writes, sweeping every ``interval_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.quoting import OpportunityStalled
from crm_common.events.envelope import CloudEvent
from crm_common.scheduling import DueLoop
from crm_quoting.domain.opportunity import Opportunity
from crm_quoting.service.opportunities import quoting_event

log = logging.getLogger(__name__)
LEASE_NAME = "quoting.opportunity-stall"


class StallStore(Protocol):
    async def due(self, now: datetime, limit: int) -> list[Opportunity]:
        """Opportunities of any tenant whose ``progress_due_at`` is not after ``now``."""

    async def settle(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> bool:
        """Clear the due time it was read with (False if it changed meanwhile)."""


def stall_event_id(opportunity: Opportunity) -> str:
    assert opportunity.progress_due_at is not None
    return deterministic_event_id(
        "quoting.opportunity-stalled",
        opportunity.tenant_id,
        opportunity.id,
        opportunity.progress_due_at.isoformat(),
    )


def last_progress_at(opportunity: Opportunity) -> datetime:
    """The last assessment that noted decision progress (else the first assessment)."""
    noted = [a.at for a in opportunity.assessments if a.notes_progress]
    if noted:
        return noted[-1]
    if opportunity.assessments:
        return opportunity.assessments[0].at
    return opportunity.created_at


async def settle_stalled(
    store: StallStore,
    clock: Callable[[], datetime] = utc_now,
    batch: int = 200,
    lease: Lease | None = None,
) -> int:
    """Announce what has stalled by now; returns how many events this call staged."""
    if lease is not None and not await lease.held():
        return 0
    now = clock()
    announced = 0
    for opportunity in await store.due(now, batch):
        if lease is not None and not await lease.held():
            break
        if opportunity.stage.is_closed:
            await store.settle(opportunity, [])
            continue
        assert opportunity.progress_due_at is not None
        since = last_progress_at(opportunity)
        days = max(1, round((opportunity.progress_due_at - since) / timedelta(days=1)))
        payload = OpportunityStalled(
            opportunity_id=opportunity.id,
            customer_id=opportunity.customer_id,
            owner_id=opportunity.owner_id,
            team=opportunity.team,
            last_progress_at=since,
            observation_after_days=days,
            stalled_at=opportunity.progress_due_at,
        )
        event = quoting_event(payload, opportunity.tenant_id, opportunity.customer_id).with_id(
            stall_event_id(opportunity)
        )
        if await store.settle(opportunity, [event]):
            announced += 1
    return announced


class OpportunityStallJob:
    """Runs `settle_stalled` when an assessed opportunity's due time comes."""

    def __init__(
        self,
        store: StallStore,
        notify_outbox: Callable[[], None],
        interval_s: float,
        lease: Lease | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._lease = lease
        self._notify_outbox = notify_outbox
        self._loop = DueLoop(
            "opportunity-stall", self, lease=lease, sweep_s=interval_s, clock=clock
        )

    async def run_due(self, now: datetime) -> int:
        announced = await settle_stalled(self._store, lambda: now, lease=self._lease)
        if announced:
            self._notify_outbox()
        return announced

    async def next_due(self, horizon: datetime) -> datetime | None:
        """The earliest due time up to ``horizon`` (the same indexed query)."""
        found = await self._store.due(horizon, 50)
        times = [o.progress_due_at for o in found if o.progress_due_at is not None]
        return min(times) if times else None

    def wake(self) -> None:
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
