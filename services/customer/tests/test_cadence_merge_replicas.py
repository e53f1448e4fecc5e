"""The cadence carry of a merge finished by two replicas at once on the real store (each its
own one-connection client, like two processes on FerretDB): the kept customer's cadence holds
the merged one's history once and one MERGE entry, whether the kept customer had no cadence
record yet (a unique insert: one wins, the other reloads and finds the carry) or had one (a
conditional update; on FerretDB both may write the same state: a duplicate announcement at
worst, never a second carry)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_common.clock import utc_now
from crm_common.events.contracts.customer_cadence import CustomerCadenceChanged
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_customer.adapters.cadence import CADENCE_INDEXES, MongoCadenceRepository
from crm_customer.domain.cadence import (
    Cadence,
    CadenceSource,
    after_stall,
    manual_change,
)
from crm_customer.domain.customer import Customer, CustomerStatus, new_profile
from crm_customer.service.cadence import carry_on_merge, change_cadence

pytestmark = [pytest.mark.e2e]


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "cadence", CADENCE_INDEXES) as databases:
        yield databases


def _customer(tenant: str, name: str) -> Customer:
    now = utc_now()
    return Customer(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        number="C-1",
        profile=new_profile({"name": name}, date.today()),
        status=CustomerStatus.LEAD,
        owner_id="rep",
        created_at=now,
        updated_at=now,
        team="north",
    )


async def _announced(db: AsyncDatabase[Document], tenant: str, customer_id: str) -> int:
    return await db[OUTBOX_COLLECTION].count_documents(
        {
            "event.type": CustomerCadenceChanged.event_type,
            "event.tenant_id": tenant,
            "event.data.customer_id": customer_id,
        }
    )


@pytest.mark.parametrize("kept_has_record", [False, True])
async def test_two_replicas_finishing_one_merge_carry_once(
    replicas: ReplicaDatabases, kept_has_record: bool
) -> None:
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    kept, merged = _customer(tenant, "Kept Co"), _customer(tenant, "Merged Co")
    earlier = utc_now() - timedelta(days=3)
    repo = MongoCadenceRepository(db_a, tenant)
    await change_cadence(
        tenant,
        merged,
        repo,
        lambda c: after_stall(c, opportunity_id="o1", at=earlier),
        earlier,
    )
    if kept_has_record:  # a person set it INTENSIVE, then NORMAL again (a stored NORMAL)
        for cadence in (Cadence.INTENSIVE, Cadence.NORMAL):
            await change_cadence(
                tenant,
                kept,
                repo,
                lambda c, cadence=cadence: manual_change(
                    c, cadence, "call", actor_id="mgr", at=utc_now() - timedelta(days=1)
                ),
                earlier,
            )
    before = await _announced(db_a, tenant, kept.id)
    now = utc_now()

    results = await asyncio.gather(
        carry_on_merge(tenant, kept, merged, MongoCadenceRepository(db_a, tenant), "admin", now),
        carry_on_merge(tenant, kept, merged, MongoCadenceRepository(db_b, tenant), "admin", now),
    )
    assert any(r is not None for r in results)
    stored = await MongoCadenceRepository(db_b, tenant).get(kept.id)
    assert stored is not None
    if kept_has_record:
        # A person's decision on the kept customer: it keeps its own NORMAL.
        assert stored.cadence is Cadence.NORMAL and stored.source is CadenceSource.MANUAL
    else:
        assert stored.cadence is Cadence.OBSERVATION and stored.since == earlier.replace(
            microsecond=earlier.microsecond // 1000 * 1000
        )
    carried = [h for h in stored.history if h.merged_from == merged.id]
    assert [h.source for h in carried] == [CadenceSource.STALL, CadenceSource.MERGE]
    announced = await _announced(db_a, tenant, kept.id) - before
    assert 1 <= announced <= 2  # a duplicate at worst (FerretDB's read-modify-write)
    # Finishing the merge again later changes nothing.
    assert (
        await carry_on_merge(
            tenant, kept, merged, MongoCadenceRepository(db_a, tenant), "admin", utc_now()
        )
        is None
    )
