"""The reminder scheduler: publishes ``followup.due`` and ``followup.overdue`` once per task.

Every replica runs it. Each finds candidate tasks and claims them one by one with a conditional
update that also carries the event into the task's outbox; only the replica whose update
matched publishes, so a reminder goes out exactly once however many replicas race for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime

from crm_common.clock import utc_now
from crm_common.events.contracts.engagement import FollowUpDue, FollowUpOverdue
from crm_common.events.outbox import new_event
from crm_engagement.domain.followup import FollowUp
from crm_engagement.service.base import EVENT_SOURCE
from crm_engagement.service.ports import ReminderStore

log = logging.getLogger(__name__)


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
    ) -> None:
        self._store = store
        self._notify_outbox = notify_outbox
        self._interval = interval_s
        self._batch = batch_size
        self._clock = clock
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.claimed = 0

    async def run_once(self) -> int:
        """Claim and announce what is due now; returns how many reminders this replica won."""
        now = self._clock()
        won = 0
        for task in await self._store.due_candidates(now, self._batch):
            event = new_event(
                _due_event(task),
                source=EVENT_SOURCE,
                tenant_id=task.tenant_id,
                key=task.customer_id,
            )
            won += await self._store.claim_due(task, event)
        for task in await self._store.overdue_candidates(now, self._batch):
            event = new_event(
                _overdue_event(task),
                source=EVENT_SOURCE,
                tenant_id=task.tenant_id,
                key=task.customer_id,
            )
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
