"""Expiry of sent quotes whose validity date has passed (a background job of every replica).

Only the holder of the ``quoting.quote-expiry`` lease runs a pass (`crm_common.coordination.
Lease`, re-checked before each quote, so a replica that lost the lease stops within one quote).
Each due quote is expired with one conditional update (still SENT, not superseded) that also
carries its ``quote_expired`` event (outbox). On MongoDB that update is atomic: one winner. On
FerretDB it is a read-then-write, so during a lease handover two replicas can both "win" the
same quote; the event id is therefore derived from the quote (id, version, validity date), the
same in every replica, and a second announcement is absorbed as a duplicate by the outbox and
by the consumers' processed-event ids. A replica killed mid-quote either wrote the update (the
event rides in it) or did not (the quote is still due, the next leader expires it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Protocol

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.quoting import QuoteExpired
from crm_common.events.envelope import CloudEvent
from crm_quoting.domain.quote import Quote, QuoteAction, check_action
from crm_quoting.service.opportunities import quoting_event

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:quote-expiry"
LEASE_NAME = "quoting.quote-expiry"


def expiry_event_id(quote: Quote) -> str:
    """The one id of a quote's ``quote_expired`` event (the same in every replica)."""
    return deterministic_event_id(
        "quoting.quote-expired",
        quote.tenant_id,
        quote.id,
        str(quote.version),
        quote.valid_until.isoformat(),
    )


class ExpiryStore(Protocol):
    async def due(self, today: date, limit: int) -> list[Quote]:
        """Sent, current quotes of any tenant whose ``valid_until`` is before ``today``."""

    async def expire(self, quote: Quote, events: Sequence[CloudEvent], at: datetime) -> bool:
        """Mark it EXPIRED if it is still SENT (False when another replica or a user won)."""


async def expire_due_quotes(
    store: ExpiryStore,
    clock: Callable[[], datetime] = utc_now,
    batch: int = 200,
    lease: Lease | None = None,
) -> int:
    """Expire what is due now; returns how many quotes this call expired. With a ``lease``,
    only while this process holds it."""
    if lease is not None and not await lease.held():
        return 0
    now = clock()
    expired = 0
    for quote in await store.due(now.date(), batch):
        if lease is not None and not await lease.held():
            break
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
        event = quoting_event(payload, quote.tenant_id, quote.customer_id).with_id(
            expiry_event_id(quote)
        )
        if await store.expire(quote, [event], now):
            expired += 1
    return expired


class QuoteExpiryJob:
    """Runs `expire_due_quotes` every ``interval_s`` until stopped."""

    def __init__(
        self,
        store: ExpiryStore,
        notify_outbox: Callable[[], None],
        interval_s: float,
        lease: Lease | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
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
        if self._lease is not None:
            with contextlib.suppress(Exception):
                await self._lease.release()

    async def _run(self) -> None:
        while True:
            try:
                if await expire_due_quotes(self._store, lease=self._lease):
                    self._notify_outbox()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database may be down for a moment: try again on the next tick.
                log.warning("quote expiry failed; retrying", extra={"error": repr(exc)})
            await asyncio.sleep(self._interval_s)
