"""`DueLoop`: the one loop behind every job that acts when a stored time comes.

Follow-up reminders, SLA breaches and quote expiry all wait for a time written in a document.
Polling every second kept the store busy for nothing; instead the loop asks the job when the
next thing is due and sleeps until then, and is woken early by the write that may bring a due
time closer (``wake()``, hooked to the process's outbox signal — every such write announces an
event). A write on another replica does not wake this one: the safety sweep every ``sweep_s``
catches it (so a due time closer than ``sweep_s`` set on another replica fires up to
``sweep_s`` late; anything further ahead is seen in time). The ``next_due`` question uses the
job's own candidate query with a later ``now``, so it is served by the same declared index.

With a ``Lease`` only the holder runs the job (the jobs' claims make a handover overlap
harmless). A process that does not hold it tries again each sweep and ignores wake-ups: idle,
the loop costs one indexed query and, each lease slot, one insert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from crm_common.clock import utc_now
from crm_common.coordination import Lease

log = logging.getLogger(__name__)
_RETRY_PAUSE_S = 0.2


class DueJob(Protocol):
    async def run_due(self, now: datetime) -> int:
        """Act on what is due at ``now``; returns how many items it handled."""

    async def next_due(self, horizon: datetime) -> datetime | None:
        """The earliest due time not after ``horizon`` still to act on, if any."""


class DueLoop:
    def __init__(
        self,
        name: str,
        job: DueJob,
        *,
        lease: Lease | None = None,
        sweep_s: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        after_run: Callable[[int], Awaitable[None] | None] | None = None,
    ) -> None:
        self.name = name
        self._job = job
        self._lease = lease
        self._sweep_s = sweep_s
        self._clock = clock
        self._after_run = after_run
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._leading = False
        self.runs = 0
        self.handled = 0

    def wake(self) -> None:
        """A local write may have brought a due time closer: look again now."""
        self._woken.set()

    async def start(self, _: object = None) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, _: object = None) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        if self._lease is not None:
            with contextlib.suppress(Exception):
                await self._lease.release()

    async def step(self) -> float:
        """Run the job if this process leads; returns how long to sleep before the next step."""
        self._leading = self._lease is None or await self._lease.held()
        if not self._leading:
            return self._sweep_s
        now = self._clock()
        handled = await self._job.run_due(now)
        self.runs += 1
        if handled:
            self.handled += handled
            if self._after_run is not None:
                result = self._after_run(handled)
                if result is not None:
                    await result
            return 0.0  # there may be more than one batch
        horizon = now + timedelta(seconds=self._sweep_s)
        due = await self._job.next_due(horizon)
        if due is None:
            return self._sweep_s
        # Something already due that this run could not act on (another replica's claim, a
        # write to retry): look again soon, but never spin.
        return min(max((due - self._clock()).total_seconds(), _RETRY_PAUSE_S), self._sweep_s)

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                pause = await self.step()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be away for a moment
                log.warning("%s failed; retrying", self.name, extra={"error": repr(exc)})
                pause = backoff
                backoff = min(backoff * 2, self._sweep_s)
            await self._sleep(pause)

    async def _sleep(self, pause: float) -> None:
        # A wake-up that came during the step counts (the event stays set until here).
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if self._leading:
            waits.append(asyncio.ensure_future(self._woken.wait()))
        try:
            await asyncio.wait(waits, timeout=pause, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
        self._woken.clear()
