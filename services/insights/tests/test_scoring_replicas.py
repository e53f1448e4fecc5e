"""Two replicas of the insights scoring scheduler over the same flagged customers, on the real
store.

Each replica has its own client with one connection (like two processes on FerretDB). Every
customer crossing the churn threshold must be announced once -- one ``churn_risk_raised`` event
id, one outbox entry -- and when the lease holder dies mid-way, the other replica takes the lease
over and scores the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import Crash, ReplicaDatabases, replica_databases, until

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.insights import ChurnRiskRaised
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_insights.adapters.mongo import HEALTH, INDEXES, MongoHealthStore
from crm_insights.adapters.scheduler import ScoringScheduler
from crm_insights.service.ports import Fact, HealthRecord
from crm_insights.service.scoring import LEASE_NAME, ScoringPass

pytestmark = [pytest.mark.e2e]

CUSTOMERS = 8


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "scoring", INDEXES) as databases:
        yield databases


async def _seed(db: AsyncDatabase[Document]) -> tuple[str, list[str]]:
    """Customers at churn risk 55 (two overdue follow-ups, two urgent tickets, a poor survey),
    each flagged for scoring as the event consumer would leave it."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    ids = [f"c{n}-{uuid.uuid4().hex[:6]}" for n in range(CUSTOMERS)]
    for cid in ids:
        of = {"tenant_id": tenant, "customer_id": cid}
        await db[Fact.CUSTOMERS.value].insert_one(
            {"_id": cid, "tenant_id": tenant, "owner_id": "rep"}
        )
        await db[Fact.FOLLOWUPS.value].insert_many(
            [
                {
                    "_id": f"{cid}-f{k}",
                    **of,
                    "due_at": now - timedelta(days=1),
                    "completed_at": None,
                }
                for k in range(2)
            ]
        )
        await db[Fact.TICKETS.value].insert_many(
            [{"_id": f"{cid}-t{k}", **of, "priority": "URGENT", "status": "NEW"} for k in range(2)]
        )
        await db[Fact.SURVEYS.value].insert_one(
            {
                "_id": f"{cid}-s",
                **of,
                "responded_at": now - timedelta(days=1),
                "score_sum": 2,
                "score_count": 2,
            }
        )
        await db[HEALTH].insert_one(
            {
                "_id": cid,
                "tenant_id": tenant,
                "dirty": True,
                "dirty_seq": 1,
                "churn_raised": False,
                "potential_published": None,
            }
        )
    return tenant, ids


async def _assert_each_raised_once(
    db: AsyncDatabase[Document], tenant: str, customers: list[str]
) -> None:
    entries = [
        doc async for doc in db[OUTBOX_COLLECTION].find({"event.type": ChurnRiskRaised.event_type})
    ]
    assert len(entries) == CUSTOMERS
    ids: dict[str, set[str]] = {}
    for entry in entries:
        ids.setdefault(entry["event"]["data"]["customer_id"], set()).add(entry["_id"])
    assert ids == {
        cid: {deterministic_event_id("insights.churn", tenant, cid, "1")} for cid in customers
    }
    raised = await db[HEALTH].count_documents({"churn_raised": True, "churn_seq": 1})
    assert raised == CUSTOMERS


async def test_two_replicas_raise_each_churn_warning_once(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    tenant, customers = await _seed(db_a)
    passes = [
        ScoringPass(MongoHealthStore(db), lease=Lease(db, LEASE_NAME, holder=h, slot_s=1.0))
        for db, h in ((db_a, "a"), (db_b, "b"))
    ]
    written = [0, 0]
    while True:
        rounds = await asyncio.gather(*(p.run_once() for p in passes))
        written = [w + r for w, r in zip(written, rounds, strict=True)]
        if sum(rounds) == 0:
            break
    assert sorted(written) == [0, CUSTOMERS]  # one leader did it all
    await _assert_each_raised_once(db_a, tenant, customers)


class DyingStore(MongoHealthStore):
    """Dies right after its ``crash_at``-th score (and its events) is written."""

    def __init__(self, db: AsyncDatabase[Document], crash_at: int) -> None:
        super().__init__(db)
        self.crash_at = crash_at
        self.calls = 0
        self.died = False

    async def save_score(
        self, record: HealthRecord, values: Mapping[str, Any], events: Sequence[CloudEvent]
    ) -> bool:
        self.calls += 1
        saved = await super().save_score(record, values, events)
        if self.calls == self.crash_at:
            self.died = True
            raise Crash
        return saved


async def test_when_the_leader_dies_mid_way_the_other_replica_scores_the_rest(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    tenant, customers = await _seed(db_a)
    dying = DyingStore(db_a, crash_at=3)
    lease_a = Lease(db_a, LEASE_NAME, holder="a", slot_s=1.0)
    a = ScoringScheduler(
        ScoringPass(dying, lease=lease_a), interval_s=0.5, debounce_s=0.0, renew_s=0.1
    )
    lease_b = Lease(db_b, LEASE_NAME, holder="b", slot_s=1.0)
    b = ScoringScheduler(
        ScoringPass(MongoHealthStore(db_b), lease=lease_b),
        interval_s=0.5,
        debounce_s=0.0,
        renew_s=0.1,
    )
    assert await lease_a.held()  # a leads from the start
    await a.start()
    await b.start()
    try:

        async def done() -> bool:
            raised = await db_a[HEALTH].count_documents({"churn_raised": True})
            return dying.died and raised == CUSTOMERS

        await until(done)
    finally:
        await b.stop()
        with contextlib.suppress(Crash):
            await a.stop()  # its task died with the Crash
    assert dying.calls == 3
    await _assert_each_raised_once(db_a, tenant, customers)
