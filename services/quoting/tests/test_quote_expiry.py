"""Quote expiry: due sent quotes expire once, with one ``quote_expired`` event each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from crm_common.events.contracts.quoting import QuoteExpired
from crm_common.events.envelope import CloudEvent
from crm_quoting.domain.money import Quantity
from crm_quoting.domain.quote import Quote, QuoteLine, QuoteStatus
from crm_quoting.service.expiry import SYSTEM_ACTOR, expire_due_quotes

NOW = datetime(2026, 11, 23, 0, 5, tzinfo=UTC)


def _quote(quote_id: str, valid_until: date, status: QuoteStatus = QuoteStatus.SENT) -> Quote:
    line = QuoteLine(1, "Licence", "seat", Quantity(1000), 100, 0, 0)
    return Quote(
        id=quote_id,
        tenant_id="t1",
        number="QUO20261101001",
        version=1,
        opportunity_id="o1",
        customer_id="c1",
        owner_id="rita",
        team=None,
        currency="CNY",
        valid_until=valid_until,
        status=status,
        lines=(line,),
        created_at=NOW,
        updated_at=NOW,
    )


class _SharedStore:
    """Stands in for the database both replicas see; `expire` is the conditional claim."""

    def __init__(self, quotes: list[Quote]) -> None:
        self.quotes = {q.id: q for q in quotes}
        self.events: list[CloudEvent] = []

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
        self.events.extend(events)
        return True


async def test_due_quotes_expire_once_even_with_two_replicas() -> None:
    store = _SharedStore(
        [
            _quote("past", date(2026, 11, 22)),
            _quote("today", date(2026, 11, 23)),  # still valid through its last day
            _quote("answered", date(2026, 11, 1), QuoteStatus.ACCEPTED),
        ]
    )
    # Both replicas read the due list before either claims: only one claim succeeds.
    due_for_second = await store.due(NOW.date(), 10)
    assert await expire_due_quotes(store, clock=lambda: NOW) == 1
    assert [q.id for q in due_for_second] == ["past"]
    assert await store.expire(due_for_second[0], [], NOW) is False
    assert await expire_due_quotes(store, clock=lambda: NOW) == 0

    assert store.quotes["past"].status == QuoteStatus.EXPIRED
    assert store.quotes["today"].status == QuoteStatus.SENT
    assert len(store.events) == 1
    payload = store.events[0].parse()
    assert isinstance(payload, QuoteExpired)
    assert (payload.quote_id, payload.actor_id, payload.valid_until) == (
        "past",
        SYSTEM_ACTOR,
        date(2026, 11, 22),
    )
    assert store.events[0].key == "c1" and store.events[0].tenant_id == "t1"
