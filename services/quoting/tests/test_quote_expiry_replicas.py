"""Two replicas of the quote expiry job over the same due quotes, on the real store.

Each replica has its own client with one connection (like two processes on FerretDB). Every
due quote must expire with one ``quote_expired`` event -- one event id, one outbox entry -- and
when the lease holder dies mid-way, the other replica takes the lease over and expires the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import Crash, ReplicaDatabases, replica_databases, until

from crm_common.clock import utc_now
from crm_common.coordination import Lease
from crm_common.events.contracts.quoting import QuoteExpired
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_quoting.adapters.mongo import INDEXES, MongoQuoteExpiryStore, MongoQuoteRepository
from crm_quoting.domain.money import Quantity
from crm_quoting.domain.quote import Quote, QuoteLine, QuoteStatus
from crm_quoting.service.expiry import (
    LEASE_NAME,
    QuoteExpiryJob,
    expire_due_quotes,
    expiry_event_id,
)

pytestmark = [pytest.mark.e2e]

QUOTES = 10


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "expiry", INDEXES) as databases:
        yield databases


async def _seed(db: AsyncDatabase[Document]) -> list[Quote]:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    line = QuoteLine(1, "Licence", "seat", Quantity(1000), 100, 0, 0)
    quotes = [
        Quote(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            number=f"QUO20261101{n:03d}",
            version=1,
            opportunity_id=f"o{n}",
            customer_id=f"c{n}",
            owner_id="rita",
            team=None,
            currency="CNY",
            valid_until=(now - timedelta(days=1 + n)).date(),
            status=QuoteStatus.SENT,
            lines=(line,),
            created_at=now - timedelta(days=30),
            updated_at=now - timedelta(days=30),
        )
        for n in range(QUOTES)
    ]
    repository = MongoQuoteRepository(db, tenant)
    for quote in quotes:
        await repository.add(quote, [])
    return quotes


async def _assert_each_expired_once(db: AsyncDatabase[Document], quotes: list[Quote]) -> None:
    entries = [
        doc async for doc in db[OUTBOX_COLLECTION].find({"event.type": QuoteExpired.event_type})
    ]
    assert len(entries) == QUOTES
    ids: dict[str, set[str]] = {}
    for entry in entries:
        ids.setdefault(entry["event"]["data"]["quote_id"], set()).add(entry["_id"])
    assert ids == {q.id: {expiry_event_id(q)} for q in quotes}
    statuses = {doc["status"] async for doc in db["quotes"].find({})}
    assert statuses == {QuoteStatus.EXPIRED.value}
    histories = [
        [h["action"] for h in doc["history"] if h["action"] == "expire"]
        async for doc in db["quotes"].find({})
    ]
    assert all(len(h) == 1 for h in histories)


async def test_two_replicas_expire_each_quote_once(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    quotes = await _seed(db_a)
    stores = [MongoQuoteExpiryStore(db_a), MongoQuoteExpiryStore(db_b)]
    leases = [
        Lease(db_a, LEASE_NAME, holder="a", slot_s=1.0),
        Lease(db_b, LEASE_NAME, holder="b", slot_s=1.0),
    ]
    expired = [0, 0]
    while True:
        rounds = await asyncio.gather(
            *(expire_due_quotes(s, lease=lease) for s, lease in zip(stores, leases, strict=True))
        )
        expired = [e + r for e, r in zip(expired, rounds, strict=True)]
        if sum(rounds) == 0:
            break
    assert sorted(expired) == [0, QUOTES]  # one leader did it all
    await _assert_each_expired_once(db_a, quotes)


class DyingStore(MongoQuoteExpiryStore):
    """Dies right after its ``crash_at``-th expiry is written (before the loop goes on)."""

    def __init__(self, db: AsyncDatabase[Document], crash_at: int) -> None:
        super().__init__(db)
        self.crash_at = crash_at
        self.calls = 0
        self.died = False

    async def expire(self, quote: Quote, events: Sequence[CloudEvent], at: datetime) -> bool:
        self.calls += 1
        won = await super().expire(quote, events, at)
        if self.calls == self.crash_at:
            self.died = True
            raise Crash
        return won


async def test_when_the_leader_dies_mid_way_the_other_replica_expires_the_rest(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    quotes = await _seed(db_a)
    dying = DyingStore(db_a, crash_at=4)
    lease_a = Lease(db_a, LEASE_NAME, holder="a", slot_s=1.0)
    a = QuoteExpiryJob(dying, lambda: None, interval_s=0.1, lease=lease_a)
    b = QuoteExpiryJob(
        MongoQuoteExpiryStore(db_b),
        lambda: None,
        interval_s=0.1,
        lease=Lease(db_b, LEASE_NAME, holder="b", slot_s=1.0),
    )
    assert await lease_a.held()  # a leads from the start
    await a.start()
    await b.start()
    try:

        async def done() -> bool:
            left = await db_a["quotes"].count_documents({"status": QuoteStatus.SENT.value})
            return dying.died and left == 0

        await until(done)
    finally:
        await b.stop()
        with contextlib.suppress(Crash):
            await a.stop()  # its task died with the Crash
    assert dying.calls == 4
    await _assert_each_expired_once(db_a, quotes)
