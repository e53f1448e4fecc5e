"""Runs the scoring pass in the background: after events flag customers, and on a timer.

The timer catches customers whose time-based drivers moved (``next_rescore_at`` passed); a
wake-up after each applied event keeps scores fresh without waiting for the next tick.

Every replica runs the scheduler, but a pass runs only in the replica holding the scoring
lease (see `ScoringPass`). The holder renews it every ``renew_s`` (well inside a lease slot)
whether or not there is anything to score; a replica that becomes the holder scores at once,
so customers flagged by events that other replicas consumed wait at most one lease handover
or one timer interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from crm_insights.service.scoring import ScoringPass

log = logging.getLogger(__name__)


class ScoringScheduler:
    def __init__(
        self,
        scoring: ScoringPass,
        interval_s: float,
        debounce_s: float = 0.2,
        renew_s: float = 3.0,
    ) -> None:
        self._scoring = scoring
        self._interval = interval_s
        self._debounce = debounce_s
        self._renew = min(renew_s, interval_s)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def start(self, *_: object) -> None:
        self._task = asyncio.create_task(self._run(), name="insights-scoring")

    async def stop(self, *_: object) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._scoring.release()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_pass = float("-inf")
        was_leading = False
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._renew)
            try:
                leading = await self._scoring.leading()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scoring lease check failed; retrying", extra={"error": repr(exc)})
                continue
            due = (
                self._wake.is_set()
                or (leading and not was_leading)
                or loop.time() - last_pass >= self._interval
            )
            was_leading = leading
            if not leading:
                # Another replica scores; the flagged customers stay flagged in the store.
                self._wake.clear()
                continue
            if not due:
                continue
            # Let a burst of events land before scoring the customers they touched.
            await asyncio.sleep(self._debounce)
            self._wake.clear()
            last_pass = loop.time()
            try:
                await self._scoring.run_until_idle(max_passes=50)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scoring pass failed; retrying", extra={"error": repr(exc)})
