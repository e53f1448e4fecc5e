"""The care plan after a deal on the real store, made by two replicas at once and again on a
redelivery: one plan, each visit once, one ``care_plan_started``; the next round once too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_common.clock import utc_now
from crm_common.customers.copies import CustomerCopy
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.contracts.engagement import CarePlanStarted, FollowUpScheduled
from crm_common.events.outbox import OUTBOX_COLLECTION, new_event
from crm_common.mongo import Document
from crm_engagement.adapters.mongo import (
    FOLLOWUPS,
    INDEXES,
    MongoActivityRepository,
    MongoCareRepository,
    MongoCustomerRefs,
    MongoFollowUpRepository,
    MongoInteractionRepository,
    MongoSettingsRepository,
    MongoTimelineRepository,
    customer_records,
)
from crm_engagement.domain.care import WITHDRAWN_CHURNED
from crm_engagement.domain.followup import ACTIVE, FollowUpOrigin, FollowUpStatus
from crm_engagement.service.care import start_plan, withdraw_care
from crm_engagement.service.followups import extend_care_plan
from crm_engagement.service.ports import TenantStores

pytestmark = [pytest.mark.e2e]


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "careplan", INDEXES) as databases:
        yield databases


def _stores(db: AsyncDatabase[Document], tenant: str) -> TenantStores:
    return TenantStores(
        customers=MongoCustomerRefs(db, tenant),
        interactions=MongoInteractionRepository(db, tenant),
        followups=MongoFollowUpRepository(db, tenant),
        activities=MongoActivityRepository(db, tenant),
        timeline=MongoTimelineRepository(db, tenant),
        settings=MongoSettingsRepository(db, tenant),
        records=customer_records(db, tenant),
        care=MongoCareRepository(db, tenant),
    )


async def test_two_replicas_and_a_redelivery_make_one_plan(replicas: ReplicaDatabases) -> None:
    one, two = replicas
    tenant, customer = f"t-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    now = utc_now()
    created = CustomerCreated(
        customer_id=customer, number="C-1", name="Care Co", status="DEAL", owner_id="rep",
        created_at=now,
    )  # fmt: skip
    event = new_event(created, source="crm/customer", tenant_id=tenant, key=customer)
    assert await CustomerCopy(one, tenant).apply(event, created)
    deal_event = str(uuid.uuid4())

    async def make(db: AsyncDatabase[Document]) -> int:
        return await start_plan(
            _stores(db, tenant), tenant_id=tenant, customer_id=customer,
            deal_event_id=deal_event, deal_at=now, now=now,
        )  # fmt: skip

    made = await asyncio.gather(make(one), make(two))
    again = await make(one)  # a redelivery
    assert sum(made) + again == 7
    tasks = [t async for t in one[FOLLOWUPS].find({"tenant_id": tenant})]
    assert len(tasks) == 7 and {t["assignee_id"] for t in tasks} == {"rep"}
    started = [
        d async for d in one[OUTBOX_COLLECTION].find({"event.type": CarePlanStarted.event_type})
    ]
    scheduled = [
        d async for d in one[OUTBOX_COLLECTION].find({"event.type": FollowUpScheduled.event_type})
    ]
    assert len(started) == 1 and len(scheduled) == 7

    # Finishing the last visit of the round, twice (a retry, another replica): round 2 once.
    stores = _stores(one, tenant)
    last = max(tasks, key=lambda t: t["due_at"])
    task = await stores.followups.get(last["_id"])
    assert task is not None
    done = replace(task, status=FollowUpStatus.DONE, completed_at=now + timedelta(days=303))
    first, second = await asyncio.gather(
        extend_care_plan(stores, done, now), extend_care_plan(_stores(two, tenant), done, now)
    )
    assert first + second == 4  # days 394, 485, 576, 667
    assert await one[FOLLOWUPS].count_documents({"tenant_id": tenant}) == 11


async def test_a_churn_withdraws_the_plan_once_and_a_later_deal_starts_anew(
    replicas: ReplicaDatabases,
) -> None:
    """Two replicas and a redelivery withdraw the plan: its unfinished visits cancelled with
    the reason, the finished one and a manual follow-up kept, no next round afterwards; a
    deal again later gets a new plan that the older churn leaves alone."""
    one, two = replicas
    tenant, customer = f"t-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    deal_at = utc_now()
    created = CustomerCreated(
        customer_id=customer, number="C-2", name="Lost Co", status="DEAL", owner_id="rep",
        created_at=deal_at,
    )  # fmt: skip
    event = new_event(created, source="crm/customer", tenant_id=tenant, key=customer)
    assert await CustomerCopy(one, tenant).apply(event, created)
    stores = _stores(one, tenant)

    async def deal(at: datetime) -> int:
        return await start_plan(
            stores, tenant_id=tenant, customer_id=customer, deal_event_id=str(uuid.uuid4()),
            deal_at=at, now=at,
        )  # fmt: skip

    assert await deal(deal_at) == 7
    visits = sorted(
        [t async for t in one[FOLLOWUPS].find({"tenant_id": tenant})], key=lambda t: t["due_at"]
    )
    first_visit = await stores.followups.get(visits[0]["_id"])
    assert first_visit is not None
    done = replace(first_visit, status=FollowUpStatus.DONE, completed_at=deal_at)
    assert await stores.followups.finish(done, ACTIVE, [])
    manual = replace(first_visit, id=str(uuid.uuid4()), origin=FollowUpOrigin.MANUAL,
                     origin_event_id=None)  # fmt: skip
    assert await stores.followups.add(manual, [])

    churned_at = deal_at + timedelta(days=10)

    async def churn(db: AsyncDatabase[Document]) -> int:
        return await withdraw_care(
            _stores(db, tenant), customer_id=customer, lost_at=churned_at,
            reason=WITHDRAWN_CHURNED, now=churned_at,
        )  # fmt: skip

    # Both replicas at once: FerretDB applies update_many as read-then-write, so both may
    # count the same six visits; what is stored is the same either way.
    cancelled = await asyncio.gather(churn(one), churn(two))
    assert 6 <= sum(cancelled) <= 12 and await churn(one) == 0  # a redelivery: nothing more
    by_status: dict[str, int] = {}
    async for t in one[FOLLOWUPS].find({"tenant_id": tenant}):
        by_status[t["status"]] = by_status.get(t["status"], 0) + 1
        if t["status"] == "cancelled":
            assert t["outcome"] == WITHDRAWN_CHURNED and t["origin"] == "care_plan"
    assert by_status == {"done": 1, "cancelled": 6, "open": 1}
    plan = await stores.care.get_plan(visits[0]["origin_event_id"])
    assert plan is not None and plan.withdrawn and plan.withdrawn_reason == WITHDRAWN_CHURNED
    # The last visit finished after the withdrawal makes no next round.
    last = await stores.followups.get(visits[-1]["_id"])
    assert last is not None
    assert await extend_care_plan(stores, replace(last, status=FollowUpStatus.DONE), deal_at) == 0

    # A deal again later: a new plan (another deal event), which the old churn leaves alone.
    assert await deal(churned_at + timedelta(days=30)) == 7
    assert await churn(two) == 0  # the old churn redelivered (or replayed)
    assert await one[FOLLOWUPS].count_documents({"tenant_id": tenant, "status": "open"}) == 8
