"""DueLoop: sleeps until the job's next due time, wakes on local writes, never spins."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from tests.support.replicas import until

from crm_common.clock import utc_now
from crm_common.scheduling import DueLoop


class Job:
    """Items due at given instants; ``run_due`` handles those whose time has come."""

    def __init__(self) -> None:
        self.pending: list[datetime] = []
        self.handled: list[tuple[datetime, datetime]] = []  # (due, handled at)
        self.next_due_calls = 0

    async def run_due(self, now: datetime) -> int:
        ready = [due for due in self.pending if due <= now]
        for due in ready:
            self.pending.remove(due)
            self.handled.append((due, now))
        return len(ready)

    async def next_due(self, horizon: datetime) -> datetime | None:
        self.next_due_calls += 1
        return min((due for due in self.pending if due <= horizon), default=None)


async def test_acts_at_the_due_time_without_waiting_for_the_sweep() -> None:
    job = Job()
    job.pending.append(utc_now() + timedelta(seconds=0.3))
    loop = DueLoop("test", job, sweep_s=60.0)
    await loop.start()
    try:
        await until(lambda: bool(job.handled))
    finally:
        await loop.stop()
    due, at = job.handled[0]
    assert at >= due


async def test_a_local_write_wakes_the_loop_for_an_item_it_did_not_know() -> None:
    job = Job()
    loop = DueLoop("test", job, sweep_s=60.0)
    await loop.start()
    try:
        await until(lambda: job.next_due_calls >= 1)  # asleep for the sweep now
        job.pending.append(utc_now())
        loop.wake()
        await until(lambda: bool(job.handled))
    finally:
        await loop.stop()


async def test_an_item_due_but_not_handled_is_retried_without_spinning() -> None:
    class Stuck(Job):
        async def run_due(self, now: datetime) -> int:
            return 0  # e.g. another replica holds the claim

    job = Stuck()
    job.pending.append(utc_now() - timedelta(seconds=1))
    loop = DueLoop("test", job, sweep_s=60.0)
    await loop.start()
    try:
        await until(lambda: loop.runs >= 1)
        first = loop.runs
        await asyncio.sleep(1.0)  # an observation window: counts runs, waits for nothing
    finally:
        await loop.stop()
    assert loop.runs - first <= 6  # a 0.2 s retry pause, not a busy loop
