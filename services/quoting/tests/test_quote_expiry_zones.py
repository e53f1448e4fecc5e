"""Quote expiry in the tenant's zone: a quote valid until D expires when the tenant's local
date passes D (the start of D + 1 there), not at UTC midnight; the loop's next wake-up is that
instant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from crm_common.events.envelope import CloudEvent
from crm_quoting.domain.money import Quantity
from crm_quoting.domain.quote import Quote, QuoteLine, QuoteStatus
from crm_quoting.service.expiry import QuoteExpiryJob, expire_due_quotes, expires_at

ZONES = {
    "east": ZoneInfo("Asia/Shanghai"),
    "west": ZoneInfo("America/New_York"),
    "utc": ZoneInfo("UTC"),
}


async def zone_of(tenant_id: str) -> ZoneInfo:
    return ZONES[tenant_id]


def _in(tenant: str, quote_id: str, valid_until: date) -> Quote:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return Quote(
        id=quote_id,
        tenant_id=tenant,
        number="QUO20261101001",
        version=1,
        opportunity_id="o1",
        customer_id="c1",
        owner_id="rita",
        team=None,
        currency="CNY",
        valid_until=valid_until,
        status=QuoteStatus.SENT,
        lines=(QuoteLine(1, "Licence", "seat", Quantity(1000), 100, 0, 0),),
        created_at=at,
        updated_at=at,
    )


class _SharedStore:
    """The quotes of every tenant; `due` is the indexed candidate query (UTC dates)."""

    def __init__(self, quotes: list[Quote]) -> None:
        self.quotes = {q.id: q for q in quotes}

    async def due(self, today: date, limit: int) -> list[Quote]:
        return [
            q
            for q in self.quotes.values()
            if q.status == QuoteStatus.SENT and q.valid_until < today and not q.superseded
        ][:limit]

    async def expire(self, quote: Quote, events: Sequence[CloudEvent], at: datetime) -> bool:
        if self.quotes[quote.id].status != QuoteStatus.SENT:
            return False
        self.quotes[quote.id] = replace(quote, status=QuoteStatus.EXPIRED)
        return True


async def test_each_tenant_expires_at_its_own_midnight() -> None:
    # 2026-11-23 02:00 UTC: 10:00 on the 23rd in Shanghai, 21:00 on the 22nd in New York.
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    store = _SharedStore(
        [
            _in("east", "east-22", date(2026, 11, 22)),  # Shanghai is past the 22nd: expires
            _in("west", "west-22", date(2026, 11, 22)),  # New York is still on the 22nd
            _in("utc", "utc-22", date(2026, 11, 22)),  # UTC is past the 22nd
            _in("west", "west-20", date(2026, 11, 20)),  # past in every zone
            _in("east", "east-23", date(2026, 11, 23)),  # valid through today in Shanghai
        ]
    )
    assert await expire_due_quotes(store, clock=lambda: now, zone_of=zone_of) == 3
    expired = {q.id for q in store.quotes.values() if q.status == QuoteStatus.EXPIRED}
    assert expired == {"east-22", "utc-22", "west-20"}
    # Five hours later New York's 23rd has begun.
    later = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert await expire_due_quotes(store, clock=lambda: later, zone_of=zone_of) == 1
    assert store.quotes["west-22"].status == QuoteStatus.EXPIRED


async def test_the_loop_wakes_at_the_tenants_midnight() -> None:
    quote = _in("west", "west-22", date(2026, 11, 22))
    assert expires_at(quote, ZONES["west"]) == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert expires_at(quote, ZONES["east"]) == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    job = QuoteExpiryJob(_SharedStore([quote]), lambda: None, interval_s=60, zone_of=zone_of)
    # Nothing due within the horizon before New York's midnight; exactly then after it.
    assert await job.next_due(datetime(2026, 11, 23, 4, 0, tzinfo=UTC)) is None
    assert await job.next_due(datetime(2026, 11, 23, 5, 30, tzinfo=UTC)) == datetime(
        2026, 11, 23, 5, 0, tzinfo=UTC
    )
