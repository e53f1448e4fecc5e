"""The startup migration of derived fields (issue 17) on the real store, with two replicas:
customers stored before the type followed the lifecycle (a DEAL still POTENTIAL) and before
completeness/value tier existed are normalised once — one history entry, one event each —
even when two processes run the migration at the same time, and a second run finds nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import stack
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_common.events.contracts.customer import CustomerUpdated, CustomerValueTierChanged
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_customer.adapters.migration import migrate_derived, pending_derived
from crm_customer.adapters.mongo import DERIVED_VERSION, INDEXES, to_document
from crm_customer.domain.customer import (
    BudgetRange,
    Customer,
    CustomerStatus,
    CustomerType,
    Profile,
)

pytestmark = [pytest.mark.e2e]

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LEGACY_FIELDS = (
    "completeness",
    "missing_items",
    "value_tier",
    "deal_revenue_minor",
    "revenue_quote_ids",
    "derived_version",
)


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "derived", INDEXES) as databases:
        yield databases


def legacy(tenant: str, n: int, status: CustomerStatus, budget_max: int = 0) -> dict[str, object]:
    """A customer document as an older release stored it: type POTENTIAL whatever the status,
    no completeness, tier or derived version."""
    customer = Customer(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        number=f"CUS20261201{n:03d}",
        profile=Profile(
            name=f"Legacy {n}",
            customer_type=CustomerType.POTENTIAL,
            budget=BudgetRange(0, budget_max, "CNY") if budget_max else None,
        ),
        status=status,
        owner_id="rep",
        created_at=NOW,
        updated_at=NOW,
        history=(),
    )
    doc = to_document(dataclasses.replace(customer), NOW.date(), n)
    for name in LEGACY_FIELDS:
        doc.pop(name)
    return doc


async def test_two_replicas_normalise_each_legacy_customer_once(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    docs = [
        legacy(tenant, 1, CustomerStatus.DEAL),
        legacy(tenant, 2, CustomerStatus.INTENTION),
        legacy(tenant, 3, CustomerStatus.LEAD, budget_max=600_000_000),
        legacy(tenant, 4, CustomerStatus.PENDING_REVIEW),
    ]
    await db_a["customers"].insert_many(docs)
    assert await pending_derived(db_a)

    done = await asyncio.gather(
        migrate_derived(db_a, lambda: None), migrate_derived(db_b, lambda: None)
    )
    # Each customer normalised; on MongoDB by exactly one of the two (the version-conditional
    # write is atomic there), on FerretDB 1.24 both may win the same read-modify-write race
    # (docs/architecture.md): a duplicate write of the same values, never a lost customer.
    # In a service the lease keeps the second replica out anyway (crm_customer.main).
    assert len(docs) <= sum(done) <= 2 * len(docs)
    assert not await pending_derived(db_b)
    assert await migrate_derived(db_b, lambda: None) == 0

    stored = {d["name"]: d async for d in db_a["customers"].find({"tenant_id": tenant})}
    assert {name: d["customer_type"] for name, d in stored.items()} == {
        "Legacy 1": "deal",
        "Legacy 2": "intention",
        "Legacy 3": "potential",
        "Legacy 4": "potential",
    }
    assert {name: d["value_tier"] for name, d in stored.items()} == {
        "Legacy 1": "C",
        "Legacy 2": "C",
        "Legacy 3": "A",
        "Legacy 4": "C",
    }
    assert all(d["derived_version"] == DERIVED_VERSION for d in stored.values())
    assert all(d["completeness"] == 0 and len(d["missing_items"]) == 6 for d in stored.values())
    type_entries = {
        name: [h for h in d["history"] if h["field"] == "customer_type"]
        for name, d in stored.items()
    }
    # (A duplicate of the race above repeats an entry, the same change: never a different one.)
    assert {h["after"] for h in type_entries["Legacy 1"]} == {"deal"}
    assert type_entries["Legacy 1"][0]["actor_id"] == "system:migration"
    assert type_entries["Legacy 4"] == []

    updated = [
        doc["event"]
        async for doc in db_a[OUTBOX_COLLECTION].find(
            {"event.type": CustomerUpdated.event_type, "event.tenant_id": tenant}
        )
    ]
    # The DEAL and the INTENTION that were POTENTIAL (twice at most, after a lost race).
    assert {e["data"]["customer_id"] for e in updated} == {
        d["_id"] for d in stored.values() if d["name"] in ("Legacy 1", "Legacy 2")
    }
    assert len(updated) <= 4
    assert all(e["data"]["state"]["customer_type"] in ("DEAL", "INTENTION") for e in updated)
    tiers = await db_a[OUTBOX_COLLECTION].count_documents(
        {"event.type": CustomerValueTierChanged.event_type, "event.tenant_id": tenant}
    )
    assert 1 <= tiers <= 2  # Legacy 3: C (stored default) -> A from its budget
