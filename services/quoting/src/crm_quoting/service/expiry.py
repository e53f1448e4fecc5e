"""Expiry of sent quotes whose validity date has passed (a background job of every replica).

Each due quote is claimed with one conditional update (still SENT, not superseded) that also
carries its ``quote_expired`` event, so with several replicas running the job each quote
expires, and is announced, exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Protocol

from crm_common.clock import utc_now
from crm_common.events.contracts.quoting import QuoteExpired
from crm_common.events.envelope import CloudEvent
from crm_quoting.domain.quote import Quote, QuoteAction, check_action
from crm_quoting.service.opportunities import quoting_event

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:quote-expiry"


class ExpiryStore(Protocol):
    async def due(self, today: date, limit: int) -> list[Quote]:
        """Sent, current quotes of any tenant whose ``valid_until`` is before ``today``."""

    async def expire(self, quote: Quote, events: Sequence[CloudEvent], at: datetime) -> bool:
        """Mark it EXPIRED if it is still SENT (False when another replica or a user won)."""


async def expire_due_quotes(
    store: ExpiryStore, clock: Callable[[], datetime] = utc_now, batch: int = 200
) -> int:
    """Expire what is due now; returns how many quotes this call expired."""
    now = clock()
    expired = 0
    for quote in await store.due(now.date(), batch):
        check_action(quote, QuoteAction.EXPIRE)
        payload = QuoteExpired(
            quote_id=quote.id,
            quote_number=quote.number,
            version=quote.version,
            opportunity_id=quote.opportunity_id,
            customer_id=quote.customer_id,
            owner_id=quote.owner_id,
            actor_id=SYSTEM_ACTOR,
            at=now,
            valid_until=quote.valid_until,
        )
        event = quoting_event(payload, quote.tenant_id, quote.customer_id)
        if await store.expire(quote, [event], now):
            expired += 1
    return expired


class QuoteExpiryJob:
    """Runs `expire_due_quotes` every ``interval_s`` until stopped."""

    def __init__(
        self, store: ExpiryStore, notify_outbox: Callable[[], None], interval_s: float
    ) -> None:
        self._store = store
        self._notify_outbox = notify_outbox
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quote-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                if await expire_due_quotes(self._store):
                    self._notify_outbox()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database may be down for a moment: try again on the next tick.
                log.warning("quote expiry failed; retrying", extra={"error": repr(exc)})
            await asyncio.sleep(self._interval_s)
