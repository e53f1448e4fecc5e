"""Two replicas of the opportunity stall loop over the same stalled opportunities, on the real
store: each stalled opportunity is announced once (one event id, one outbox entry), also when
both replicas run a pass without a lease (the handover overlap), and a closed opportunity found
due is only cleared."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_common.clock import utc_now
from crm_common.coordination import Lease
from crm_common.events.contracts.quoting import OpportunityStalled
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_quoting.adapters.mongo import (
    INDEXES,
    MongoOpportunityRepository,
    MongoOpportunityStallStore,
)
from crm_quoting.domain.assessment import Assessment, Engagement, Fit
from crm_quoting.domain.money import Money
from crm_quoting.domain.opportunity import Opportunity, OpportunityStage
from crm_quoting.service.stall import LEASE_NAME, settle_stalled, stall_event_id

pytestmark = [pytest.mark.e2e]

OPPORTUNITIES = 8


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "stall", INDEXES) as databases:
        yield databases


async def _seed(db: AsyncDatabase[Document]) -> list[Opportunity]:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    assessed = now - timedelta(days=40)
    opportunities = [
        Opportunity(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            customer_id=f"c{n}",
            name=f"Deal {n}",
            stage=OpportunityStage.WON if n == 0 else OpportunityStage.SOLUTION,
            owner_id="rita",
            team="north",
            amount=Money(0, "CNY"),
            probability=40,
            expected_close_date=None,
            created_at=assessed,
            updated_at=assessed,
            assessments=(Assessment(Fit.MEDIUM, Engagement.SILENT, None, "rita", assessed),),
            progress_due_at=assessed + timedelta(days=30 + n % 3),
        )
        for n in range(OPPORTUNITIES)
    ]
    repository = MongoOpportunityRepository(db, tenant)
    for opportunity in opportunities:
        await repository.add(opportunity, [])
    # One assessed recently: not due.
    fresh = replace(
        opportunities[1], id=str(uuid.uuid4()), progress_due_at=now + timedelta(days=20)
    )
    await repository.add(fresh, [])
    return opportunities


async def _assert_each_announced_once(
    db: AsyncDatabase[Document], opportunities: list[Opportunity]
) -> None:
    entries = [
        doc
        async for doc in db[OUTBOX_COLLECTION].find({"event.type": OpportunityStalled.event_type})
    ]
    ids: dict[str, set[str]] = {}
    for entry in entries:
        ids.setdefault(entry["event"]["data"]["opportunity_id"], set()).add(entry["_id"])
    open_ones = [o for o in opportunities if not o.stage.is_closed]
    assert ids == {o.id: {stall_event_id(o)} for o in open_ones}
    assert len(entries) == len(open_ones)
    left = await db["opportunities"].count_documents({"progress_due_at": {"$lte": utc_now()}})
    assert left == 0


async def test_two_replicas_announce_each_stall_once(replicas: ReplicaDatabases) -> None:
    db_a, db_b = replicas
    opportunities = await _seed(db_a)
    stores = [MongoOpportunityStallStore(db_a), MongoOpportunityStallStore(db_b)]
    leases = [
        Lease(db_a, LEASE_NAME, holder="a", slot_s=1.0),
        Lease(db_b, LEASE_NAME, holder="b", slot_s=1.0),
    ]
    announced = [0, 0]
    while True:
        rounds = await asyncio.gather(
            *(settle_stalled(s, lease=lease) for s, lease in zip(stores, leases, strict=True))
        )
        announced = [a + r for a, r in zip(announced, rounds, strict=True)]
        if sum(rounds) == 0:
            break
    assert sorted(announced) == [0, OPPORTUNITIES - 1]  # one leader; the WON one only cleared
    await _assert_each_announced_once(db_a, opportunities)


async def test_without_a_lease_a_race_still_announces_each_stall_once(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    opportunities = await _seed(db_a)
    stores = [MongoOpportunityStallStore(db_a), MongoOpportunityStallStore(db_b)]
    await asyncio.gather(*(settle_stalled(s) for s in stores))
    await asyncio.gather(*(settle_stalled(s) for s in stores))
    await _assert_each_announced_once(db_a, opportunities)
