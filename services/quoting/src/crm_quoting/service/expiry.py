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

Local dates: a quote valid until day D expires when the TENANT's local date passes D, i.e. at
the start of D + 1 in the tenant's zone (`crm_common.tenants`). Every zone's local date is
within a day of the UTC date, so a pass reads, with the same indexed query as before, first
the quotes due in every zone (``valid_until`` < UTC today - 1), then the edge candidates
(``valid_until`` < UTC today + 1, at most ``EDGE_FACTOR`` x batch of them), and expires
those whose tenant's local today is past their ``valid_until``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.quoting import QuoteExpired
from crm_common.events.envelope import CloudEvent
from crm_common.localtime import UTC_ZONE, local_date, start_of_local_day
from crm_common.scheduling import DueLoop
from crm_quoting.domain.quote import Quote, QuoteAction, check_action
from crm_quoting.service.opportunities import quoting_event

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:quote-expiry"
LEASE_NAME = "quoting.quote-expiry"
# How many edge candidates (due in some zones only) one pass reads, per quote of the batch.
EDGE_FACTOR = 5
# How many candidates `next_due` looks at for the earliest expiry instant.
NEXT_DUE_CANDIDATES = 1000

ZoneOf = Callable[[str], Awaitable[ZoneInfo]]


async def _utc(_: str) -> ZoneInfo:
    return UTC_ZONE


def expires_at(quote: Quote, zone: ZoneInfo) -> datetime:
    """When a quote valid until D expires: the start of D + 1 in the tenant's zone."""
    return start_of_local_day(quote.valid_until + timedelta(days=1), zone)


async def due_quotes(
    store: ExpiryStore, now: datetime, batch: int, zone_of: ZoneOf | None = None
) -> list[Quote]:
    """Up to ``batch`` quotes whose tenant's local date at ``now`` is past their validity."""
    zone_of = zone_of or _utc
    today = now.astimezone(UTC).date()
    # Due in every zone (each zone's date is at least UTC today - 1): no zone needed.
    quotes = await store.due(today - timedelta(days=1), batch)
    if len(quotes) >= batch:
        return quotes
    seen = {q.id for q in quotes}
    for quote in await store.due(today + timedelta(days=1), batch * EDGE_FACTOR):
        if quote.id in seen or len(quotes) >= batch:
            continue
        if quote.valid_until < local_date(now, await zone_of(quote.tenant_id)):
            quotes.append(quote)
    return quotes


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
    zone_of: ZoneOf | None = None,
) -> int:
    """Expire what is due now in each tenant's zone (``zone_of``; UTC without it); returns
    how many quotes this call expired. With a ``lease``, only while this process holds it."""
    if lease is not None and not await lease.held():
        return 0
    now = clock()
    expired = 0
    for quote in await due_quotes(store, now, batch, zone_of):
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
        zone_of: ZoneOf | None = None,
    ) -> None:
        self._store = store
        self._zone_of = zone_of or _utc
        self._lease = lease
        self._notify_outbox = notify_outbox
        self._clock = clock
        self._loop = DueLoop("quote-expiry", self, lease=lease, sweep_s=interval_s, clock=clock)

    async def run_due(self, now: datetime) -> int:
        expired = await expire_due_quotes(
            self._store, lambda: now, lease=self._lease, zone_of=self._zone_of
        )
        if expired:
            self._notify_outbox()
        return expired

    async def next_due(self, horizon: datetime) -> datetime | None:
        """A quote valid until day D expires at the start of D + 1 in its tenant's zone: the
        earliest such instant by ``horizon`` among the candidates (the same indexed query)."""
        today = horizon.astimezone(UTC).date()
        earliest: datetime | None = None
        for quote in await self._store.due(today + timedelta(days=1), NEXT_DUE_CANDIDATES):
            at = expires_at(quote, await self._zone_of(quote.tenant_id))
            if at <= horizon and (earliest is None or at < earliest):
                earliest = at
        return earliest

    def wake(self) -> None:
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
