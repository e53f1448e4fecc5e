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

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Protocol

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.quoting import QuoteExpired
from crm_common.events.envelope import CloudEvent
from crm_common.scheduling import DueLoop
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
    """Runs `expire_due_quotes` when a sent quote's validity ends (`crm_common.scheduling.
    DueLoop`: woken by local quote writes, sweeping every ``interval_s``)."""

    def __init__(
        self,
        store: ExpiryStore,
        notify_outbox: Callable[[], None],
        interval_s: float,
        lease: Lease | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._lease = lease
        self._notify_outbox = notify_outbox
        self._clock = clock
        self._loop = DueLoop("quote-expiry", self, lease=lease, sweep_s=interval_s, clock=clock)

    async def run_due(self, now: datetime) -> int:
        expired = await expire_due_quotes(self._store, lambda: now, lease=self._lease)
        if expired:
            self._notify_outbox()
        return expired

    async def next_due(self, horizon: datetime) -> datetime | None:
        """A quote valid until day D expires at the start of D + 1 (UTC): if one is due by
        ``horizon``'s day, that day's start; the same indexed query."""
        if await self._store.due(horizon.date(), 1):
            return datetime.combine(horizon.date(), time.min, tzinfo=UTC)
        return None

    def wake(self) -> None:
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
