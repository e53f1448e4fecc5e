"""The reminder scheduler: publishes ``followup.due`` and ``followup.overdue`` once per task.

Every replica runs the loop, but only the holder of the ``engagement.reminders`` lease scans
(`crm_common.coordination.Lease`; it re-checks the lease before each task, so a replica that
lost it stops within one task). Each reminder is then claimed by INSERTING its claim document
(``_id = "<task>:due"`` / ``"<task>:overdue"``, the event in its outbox): a unique ``_id`` is
refused atomically on MongoDB and FerretDB alike, so during a lease handover, when two replicas
may briefly both scan, only one insert wins. The event id is derived from the task, the kind
and the due time, so even a second announcement would be one event to consumers. A replica
killed after its claim but before flagging the task leaves nothing undone: the claim carries
the event, and the next scan re-flags the task (its claim is refused, a no-op).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.engagement import FollowUpDue, FollowUpOverdue
from crm_common.events.outbox import new_event
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
    )


def _overdue_event(task: FollowUp) -> FollowUpOverdue:
    return FollowUpOverdue(
        followup_id=task.id,
        customer_id=task.customer_id,
        assignee_id=task.assignee_id,
        priority=task.priority.value,
        goal=task.goal,
        due_at=task.due_at,
    )


class ReminderScheduler:
    def __init__(
        self,
        store: ReminderStore,
        notify_outbox: Callable[[], None],
        *,
        interval_s: float = 1.0,
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
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.claimed = 0

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

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reminder-scheduler")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        if self._lease is not None:
            with contextlib.suppress(Exception):
                await self._lease.release()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reminder run failed; retrying", extra={"error": repr(exc)})
            # A little jitter keeps replicas from polling in lockstep.
            pause = self._interval * (0.8 + 0.4 * random.random())  # noqa: S311
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
