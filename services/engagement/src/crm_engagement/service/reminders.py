"""The reminder scheduler: publishes ``followup.due`` and ``followup.overdue`` once per task.

Every replica runs the loop (`crm_common.scheduling.DueLoop`: it sleeps until the next reminder is
due, is woken by local follow-up writes and sweeps every ``interval_s``), but only the holder of
the ``engagement.reminders`` lease scans (`crm_common.coordination.Lease`; it re-checks the lease
before each task, so a replica that lost it stops within one task). Each reminder is then claimed
by INSERTING its claim document (``_id = "<task>:due"`` / ``"<task>:overdue"``, the event in its
outbox): a unique ``_id`` is refused atomically on MongoDB and FerretDB alike, so during a lease
handover, when two replicas may briefly both scan, only one insert wins. The event id is derived
from the task, the kind and the due time, so even a second announcement would be one event to
consumers. A replica killed after its claim but before flagging the task leaves nothing undone: the
claim carries the event, and the next scan re-flags the task (its claim is refused, a no-op)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.engagement import FollowUpDue, FollowUpOverdue
from crm_common.events.outbox import new_event
from crm_common.scheduling import DueLoop
from crm_engagement.domain.followup import FollowUp
from crm_engagement.service.base import EVENT_SOURCE
from crm_engagement.service.ports import ReminderStore

log = logging.getLogger(__name__)


LEASE_NAME = "engagement.reminders"


def reminder_event_id(task: FollowUp, kind: str) -> str:
    """The one id of a task's ``due`` or ``overdue`` reminder (the same in every replica)."""
    return deterministic_event_id(
        "engagement.reminder", kind, task.tenant_id, task.id, task.due_at.isoformat()
    )


def _due_event(task: FollowUp) -> FollowUpDue:
    return FollowUpDue(
        followup_id=task.id,
        customer_id=task.customer_id,
        assignee_id=task.assignee_id,
        priority=task.priority.value,
        goal=task.goal,
        due_at=task.due_at,
        participant_ids=list(task.participant_ids),
    )


def _overdue_event(task: FollowUp) -> FollowUpOverdue:
    return FollowUpOverdue(
        followup_id=task.id,
        customer_id=task.customer_id,
        assignee_id=task.assignee_id,
        priority=task.priority.value,
        goal=task.goal,
        due_at=task.due_at,
        participant_ids=list(task.participant_ids),
    )


class ReminderScheduler:
    def __init__(
        self,
        store: ReminderStore,
        notify_outbox: Callable[[], None],
        *,
        interval_s: float = 5.0,
        batch_size: int = 200,
        clock: Callable[[], datetime] = utc_now,
        lease: Lease | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
        self._notify_outbox = notify_outbox
        self._interval = interval_s
        self._batch = batch_size
        self._clock = clock
        self.claimed = 0
        # Sleeps until the next reminder is due, woken by local writes, sweeping every
        # ``interval_s`` for writes made by other replicas (crm_common.scheduling).
        self._loop = DueLoop(
            "reminder-scheduler", self, lease=lease, sweep_s=interval_s, clock=clock
        )

    async def _leading(self) -> bool:
        return self._lease is None or await self._lease.held()

    async def run_once(self) -> int:
        """Claim and announce what is due now; returns how many reminders this replica won."""
        if not await self._leading():
            return 0
        now = self._clock()
        won = 0
        for task in await self._store.due_candidates(now, self._batch):
            if not await self._leading():
                break
            event = new_event(
                _due_event(task),
                source=EVENT_SOURCE,
                tenant_id=task.tenant_id,
                key=task.customer_id,
            ).with_id(reminder_event_id(task, "due"))
            won += await self._store.claim_due(task, event)
        for task in await self._store.overdue_candidates(now, self._batch):
            if not await self._leading():
                break
            event = new_event(
                _overdue_event(task),
                source=EVENT_SOURCE,
                tenant_id=task.tenant_id,
                key=task.customer_id,
            ).with_id(reminder_event_id(task, "overdue"))
            won += await self._store.claim_overdue(task, event)
        if won:
            self.claimed += won
            self._notify_outbox()
            log.info("reminders claimed", extra={"count": won, "total": self.claimed})
        return won

    async def run_due(self, now: datetime) -> int:
        return await self.run_once()

    async def next_due(self, horizon: datetime) -> datetime | None:
        """The earliest reminder or overdue time up to ``horizon`` (the same indexed queries)."""
        due = [task.remind_at for task in await self._store.due_candidates(horizon, 1)]
        due += [task.due_at for task in await self._store.overdue_candidates(horizon, 1)]
        return min(due, default=None)

    def wake(self) -> None:
        """A follow-up was written here: its reminder may be due sooner than we planned."""
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
