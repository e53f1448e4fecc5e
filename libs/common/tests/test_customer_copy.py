"""The shared customer copy and the merge re-pointing against the real store (FerretDB).

Covers: every copied event type lands; a duplicate or an older event (by customer version)
changes nothing, also when events arrive out of order; events of older producers (no
``state``) still apply per field group by event time; a merge is final; the service's own
fields survive copied updates; another tenant's id is refused; re-pointing is tenant-scoped
and idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.customers.copies import CustomerCopy, customer_copy_handlers
from crm_common.customers.repoint import CustomerRecords, RepointTarget, repoint_customer
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import (
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerOwnerChanged,
    CustomerRestored,
    CustomerState,
    CustomerStatusChanged,
    CustomerUpdated,
    PurchaseProfile,
)
from crm_common.events.outbox import new_event
from crm_common.mongo import Document, create_client

pytestmark = [pytest.mark.e2e]

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(infra: stack.StackConfig) -> AsyncIterator[AsyncDatabase[Document]]:
    client = create_client(infra.mongodb_uri, "copy-test", max_pool_size=1)
    name = f"crm_test_copy_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


def _state(version: int, **changes: Any) -> CustomerState:
    values: dict[str, Any] = {
        "version": version,
        "number": "CUS20260301001",
        "name": "Copy Co",
        "status": "PENDING_REVIEW",
        "owner_id": "rep-a",
        "team": "north",
        "customer_type": "POTENTIAL",
        "updated_at": T0 + timedelta(minutes=version),
    }
    return CustomerState(**{**values, **changes})


class Feed:
    """Delivers customer events to the copy the way a service's consumer does."""

    def __init__(self, db: AsyncDatabase[Document], tenant: str) -> None:
        self.db = db
        self.tenant = tenant
        self.handlers = customer_copy_handlers(lambda t: CustomerCopy(db, t))

    async def deliver(self, payload: EventData, key: str = "c1") -> None:
        event = new_event(payload, source="crm/customer", tenant_id=self.tenant, key=key)
        await self.handlers[payload.event_type](event, payload)

    @property
    def copy(self) -> CustomerCopy:
        return CustomerCopy(self.db, self.tenant)


def _created(state: CustomerState) -> CustomerCreated:
    return CustomerCreated(
        customer_id="c1",
        number=state.number,
        name=state.name,
        status=state.status,
        owner_id=state.owner_id,
        team=state.team,
        created_at=state.updated_at,
        state=state,
    )


def _reassigned(version: int, owner: str, team: str | None) -> CustomerOwnerChanged:
    return CustomerOwnerChanged(
        customer_id="c1",
        from_owner_id="rep-a",
        to_owner_id=owner,
        from_team="north",
        to_team=team,
        actor_id="admin",
        changed_at=T0 + timedelta(minutes=version),
        state=_state(version, owner_id=owner, team=team),
    )


async def test_every_copied_event_applies_in_order(db: AsyncDatabase[Document]) -> None:
    feed = Feed(db, "t1")
    await feed.deliver(_created(_state(1)))
    await feed.deliver(
        CustomerUpdated(
            customer_id="c1",
            changed_fields=["name"],
            actor_id="rep-a",
            updated_at=T0,
            state=_state(2, name="Copy Co Renamed"),
        )
    )
    await feed.deliver(
        CustomerStatusChanged(
            customer_id="c1",
            from_status="PENDING_REVIEW",
            to_status="LEAD",
            actor_id="m",
            changed_at=T0,
            state=_state(3, name="Copy Co Renamed", status="LEAD"),
        )
    )
    await feed.deliver(_reassigned(4, "rep-b", "south"))
    moved = _state(4, name="Copy Co Renamed", status="LEAD", owner_id="rep-b", team="south")
    await feed.deliver(
        CustomerDeleted(
            customer_id="c1",
            actor_id="rep-b",
            deleted_at=T0,
            state=moved.model_copy(update={"version": 5, "deleted": True}),
        )
    )
    customer = await feed.copy.get("c1")
    assert customer is not None
    assert (customer.name, customer.status, customer.owner_id, customer.team) == (
        "Copy Co Renamed",
        "LEAD",
        "rep-b",
        "south",
    )
    assert customer.deleted and not customer.is_active and customer.version == 5
    await feed.deliver(
        CustomerRestored(
            customer_id="c1",
            actor_id="rep-b",
            restored_at=T0,
            state=moved.model_copy(update={"version": 6}),
        )
    )
    assert await feed.copy.is_active("c1")
    assert await feed.copy.visible_ids("rep-b", None) == ["c1"]
    assert await feed.copy.visible_ids(None, "south") == ["c1"]
    assert await feed.copy.visible_ids("rep-a", "north") == []

    await feed.deliver(
        CustomerMerged(
            kept_id="k1",
            merged_id="c1",
            actor_id="admin",
            merged_at=T0,
            state=moved.model_copy(update={"version": 7, "merged_into": "k1"}),
        )
    )
    merged = await feed.copy.get("c1")
    assert merged is not None and merged.merged_into == "k1" and not merged.is_active


async def test_duplicates_and_older_events_change_nothing(db: AsyncDatabase[Document]) -> None:
    feed = Feed(db, "t1")
    # Out of order: the reassignment (v3) arrives before the creation (v1) and a status
    # change (v2) that happened in between; then everything is delivered again.
    reassigned = _reassigned(3, "rep-b", "south")
    assert reassigned.state is not None
    reassigned = reassigned.model_copy(
        update={"state": reassigned.state.model_copy(update={"status": "LEAD"})}
    )
    created = _created(_state(1))
    status = CustomerStatusChanged(
        customer_id="c1",
        from_status="PENDING_REVIEW",
        to_status="LEAD",
        actor_id="m",
        changed_at=T0,
        state=_state(2, status="LEAD"),
    )
    for payload in (reassigned, created, status, reassigned, created, status):
        await feed.deliver(payload)
    customer = await feed.copy.get("c1")
    assert customer is not None
    assert (customer.owner_id, customer.team, customer.version) == ("rep-b", "south", 3)
    # The v3 state already contains what v2 changed (the customer service's state after it).
    assert customer.status == "LEAD"
    assert await db["customer_refs"].count_documents({}) == 1

    # The same state applied twice is refused by the version condition.
    assert not await feed.copy.apply_state("c1", reassigned.state)  # type: ignore[arg-type]
    # A merge is final even if an older state without it arrives later.
    await feed.deliver(
        CustomerMerged(
            kept_id="k1",
            merged_id="c1",
            actor_id="admin",
            merged_at=T0,
            state=_state(9, merged_into="k1", owner_id="rep-b", team="south"),
        )
    )
    assert await feed.copy.apply_state("c1", _state(10, owner_id="rep-c"))
    after = await feed.copy.get("c1")
    assert after is not None and after.merged_into == "k1" and after.owner_id == "rep-c"


async def test_events_without_state_apply_by_time_per_group(db: AsyncDatabase[Document]) -> None:
    feed = Feed(db, "t1")
    legacy_created = _created(_state(1)).model_copy(update={"state": None})
    late = T0 + timedelta(hours=1)
    newer_owner = CustomerOwnerChanged(
        customer_id="c1",
        from_owner_id="rep-a",
        to_owner_id="rep-c",
        to_team="east",
        actor_id="admin",
        changed_at=late,
    )
    older_owner = newer_owner.model_copy(
        update={"to_owner_id": "rep-b", "changed_at": late - timedelta(minutes=5)}
    )
    await feed.deliver(legacy_created)
    await feed.deliver(newer_owner)
    await feed.deliver(older_owner)  # out of order: ignored
    await feed.deliver(
        CustomerStatusChanged(
            customer_id="c1",
            from_status="PENDING_REVIEW",
            to_status="LEAD",
            actor_id="m",
            changed_at=late - timedelta(minutes=10),  # older than the owner change: own group
        )
    )
    await feed.deliver(CustomerDeleted(customer_id="c1", actor_id="m", deleted_at=late))
    await feed.deliver(legacy_created)  # redelivered creation: version 1 is held already
    customer = await feed.copy.get("c1")
    assert customer is not None
    assert (customer.owner_id, customer.team, customer.status, customer.deleted) == (
        "rep-c",
        "east",
        "LEAD",
        True,
    )
    await feed.deliver(CustomerMerged(kept_id="k1", merged_id="c1", actor_id="m", merged_at=late))
    merged = await feed.copy.get("c1")
    assert merged is not None and merged.merged_into == "k1"


async def test_local_fields_survive_and_tenants_stay_apart(db: AsyncDatabase[Document]) -> None:
    feed = Feed(db, "t1")
    await feed.deliver(_created(_state(1)))
    assert await feed.copy.set_local("c1", {"priority": "high"})
    with pytest.raises(ValueError, match="copied fields"):
        await feed.copy.set_local("c1", {"owner_id": "rep-x"})
    await feed.deliver(_reassigned(2, "rep-b", None))
    customer = await feed.copy.get("c1")
    assert customer is not None
    assert customer.local == {"priority": "high"} and customer.owner_id == "rep-b"

    other = Feed(db, "t2")
    assert await other.copy.get("c1") is None
    assert await other.copy.visible_ids("rep-b", None) == []
    with pytest.raises(ValueError, match="another tenant"):
        await other.copy.apply_state("c1", _state(5, owner_id="intruder"))
    still = await feed.copy.get("c1")
    assert still is not None and still.owner_id == "rep-b"


async def test_repoint_is_tenant_scoped_and_idempotent(db: AsyncDatabase[Document]) -> None:
    await db["tickets"].insert_many(
        [
            {"_id": "a", "tenant_id": "t1", "customer_id": "old"},
            {"_id": "b", "tenant_id": "t1", "customer_id": "other"},
            {"_id": "c", "tenant_id": "t2", "customer_id": "old"},
        ]
    )
    await db["facts"].insert_one({"_id": "f", "tenant_id": "t1", "subject": "old"})
    targets = [RepointTarget("tickets"), RepointTarget("facts", "subject")]
    moved = await repoint_customer(db, "t1", "old", "kept", targets)
    assert moved == {"tickets": 1, "facts": 1}
    again = await repoint_customer(db, "t1", "old", "kept", targets)
    assert again == {"tickets": 0, "facts": 0}
    docs = {d["_id"]: d async for d in db["tickets"].find({})}
    assert (docs["a"]["customer_id"], docs["a"]["merged_from"]) == ("kept", "old")
    assert docs["b"]["customer_id"] == "other" and "merged_from" not in docs["b"]
    assert docs["c"]["customer_id"] == "old"  # another tenant's record stays
    fact = await db["facts"].find_one({"_id": "f"})
    assert fact is not None and (fact["subject"], fact["merged_from"]) == ("kept", "old")


async def test_merges_of_a_chain_applied_out_of_order_end_where_in_order_would(
    db: AsyncDatabase[Document],
) -> None:
    """a → b, then b → c; a replay may apply b → c first. Records of ``a`` (and records
    written for ``a`` after both merges) end on ``c``, marked from ``b``, as in order."""
    copy = CustomerCopy(db, "t1")
    for customer_id in ("a", "b", "c"):
        await copy.apply_state(customer_id, _state(1))
    await db["tickets"].insert_many(
        [
            {"_id": "ta", "tenant_id": "t1", "customer_id": "a"},
            {"_id": "tb", "tenant_id": "t1", "customer_id": "b"},
        ]
    )
    records = CustomerRecords(db, "t1", [RepointTarget("tickets")])
    # b → c first (its copy says so), then a → b.
    await copy.apply_state("b", _state(2, merged_into="c"))
    await records.repoint("b", "c")
    await copy.apply_state("a", _state(2, merged_into="b"))
    await records.repoint("a", "b")
    docs = {d["_id"]: d async for d in db["tickets"].find({})}
    assert (docs["ta"]["customer_id"], docs["ta"]["merged_from"]) == ("c", "b")
    assert (docs["tb"]["customer_id"], docs["tb"]["merged_from"]) == ("c", "b")
    # A record derived later from an event about ``a`` goes there too.
    assert await copy.merged_target("a") == ("c", "b")
    assert await copy.merged_target("c") == ("c", None)


async def test_segment_fields_are_copied_and_old_copies_simply_lack_them(
    db: AsyncDatabase[Document],
) -> None:
    """Province, industry and tags travel in the state; a copy from an older event (without
    them) reads as None / no tags, and a created event without state still gives province
    and industry."""
    feed = Feed(db, "t1")
    await feed.deliver(_created(_state(1)))
    old = await feed.copy.get("c1")
    assert old is not None and (old.region_province, old.industry, old.tags) == (None, None, ())
    updated = CustomerUpdated(
        customer_id="c1", changed_fields=["tags", "industry"], actor_id="rep-a",
        updated_at=T0 + timedelta(minutes=2),
        state=_state(2, region_province="浙江省", industry="制造业", tags=["vip", "expo"]),
    )  # fmt: skip
    await feed.deliver(updated)
    now = await feed.copy.get("c1")
    assert now is not None and now.local == {}
    assert (now.region_province, now.industry, now.tags) == ("浙江省", "制造业", ("vip", "expo"))

    bare = CustomerCreated(
        customer_id="c2", number="CUS2", name="Bare Co", status="LEAD", owner_id="rep-a",
        created_at=T0, region_province="广东省",
        purchase_profile=PurchaseProfile(industry="零售"),
    )  # fmt: skip
    await feed.deliver(bare, key="c2")
    created = await feed.copy.get("c2")
    assert created is not None and (created.region_province, created.industry) == ("广东省", "零售")
