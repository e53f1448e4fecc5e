"""Runs the scoring pass in the background: after events flag customers, and on a timer.

The timer catches customers whose time-based drivers moved (``next_rescore_at`` passed); a
wake-up after each applied event keeps scores fresh without waiting for the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from crm_insights.service.scoring import ScoringPass

log = logging.getLogger(__name__)


class ScoringScheduler:
    def __init__(self, scoring: ScoringPass, interval_s: float, debounce_s: float = 0.2) -> None:
        self._scoring = scoring
        self._interval = interval_s
        self._debounce = debounce_s
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

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            # Let a burst of events land before scoring the customers they touched.
            await asyncio.sleep(self._debounce)
            self._wake.clear()
            try:
                await self._scoring.run_until_idle(max_passes=50)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scoring pass failed; retrying", extra={"error": repr(exc)})
