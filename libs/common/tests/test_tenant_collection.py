"""`TenantCollection` scopes every method to its tenant, against the real store (FerretDB).

Two tenants share one collection; every read, count, aggregation, update, replacement and
delete made through tenant A's view must see and touch only A's documents, inserts must carry
A's tenant (and refuse B's), and the repository helpers built on it (`scoped`, `find_by_ids`,
`paginate`) keep working. `CrossTenant` is the one deliberate way to see both.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
import stack
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import (
    CrossTenant,
    CrossTenantAccess,
    Document,
    TenantCollection,
    TenantRepository,
    create_client,
    tenant_collection,
)
from crm_common.pagination import PageRequest, SortKey

pytestmark = [pytest.mark.e2e]

A, B = "tenant-a", "tenant-b"


class _Things(TenantRepository):
    collection_name: ClassVar[str] = "things"


@pytest.fixture
async def db(infra: stack.StackConfig) -> AsyncIterator[AsyncDatabase[Document]]:
    client = create_client(infra.mongodb_uri, "tenant-collection-test")
    database = client[f"crm_test_{uuid.uuid4().hex[:8]}"]
    raw = CrossTenant(database)["things"]
    await raw.insert_many(
        [
            {
                "_id": f"{tenant}-{i}",
                "tenant_id": tenant,
                "n": i,
                "kind": "odd" if i % 2 else "even",
            }
            for tenant in (A, B)
            for i in range(4)
        ]
    )
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


def _ids(docs: list[Document]) -> set[str]:
    return {doc["_id"] for doc in docs}


async def test_reads_see_only_the_tenant(db: AsyncDatabase[Document]) -> None:
    things = tenant_collection(db, "things", A)
    assert _ids([d async for d in things.find()]) == {f"{A}-{i}" for i in range(4)}
    assert _ids([d async for d in things.find({"kind": "odd"}, {"n": 1})]) == {
        "tenant-a-1",
        "tenant-a-3",
    }
    # Another tenant's id is not there; a filter naming another tenant is a bug, refused.
    assert await things.find_one({"_id": f"{B}-1"}) is None
    with pytest.raises(CrossTenantAccess):
        things.find({"tenant_id": B})
    assert await things.count_documents({"tenant_id": A}) == 4
    found = await things.find_one({"_id": f"{A}-1"}, projection={"n": 1})
    assert found == {"_id": f"{A}-1", "n": 1}
    assert await things.count_documents({}) == 4
    assert await things.count_documents({"_id": {"$in": [f"{A}-0", f"{B}-0"]}}) == 1
    assert sorted(await things.distinct("n", {"kind": "even"})) == [0, 2]


async def test_aggregate_starts_with_the_tenant(db: AsyncDatabase[Document]) -> None:
    things = tenant_collection(db, "things", A)
    group: Document = {"$group": {"_id": "$kind", "total": {"$sum": "$n"}}}
    rows = {r["_id"]: r["total"] async for r in await things.aggregate([group])}
    assert rows == {"even": 2, "odd": 4}
    # A pipeline with its own $match is folded with the tenant; one naming B is refused.
    pipeline: list[Document] = [{"$match": {"kind": "odd"}}, group]
    rows = {r["_id"]: r["total"] async for r in await things.aggregate(pipeline)}
    assert rows == {"odd": 4}
    with pytest.raises(CrossTenantAccess):
        await things.aggregate([{"$match": {"tenant_id": B}}, group])


async def test_writes_touch_only_the_tenant(db: AsyncDatabase[Document]) -> None:
    things = tenant_collection(db, "things", A)
    raw = CrossTenant(db)["things"]

    result = await things.update_one({"_id": f"{B}-0"}, {"$set": {"hit": True}})
    assert result.matched_count == 0
    result = await things.update_many({}, {"$set": {"seen": True}})
    assert result.modified_count == 4
    assert await raw.count_documents({"seen": True, "tenant_id": B}) == 0

    assert await things.find_one_and_update({"_id": f"{B}-1"}, {"$inc": {"n": 10}}) is None
    after = await things.find_one_and_update(
        {"_id": f"{A}-1"}, {"$inc": {"n": 10}}, return_document=ReturnDocument.AFTER
    )
    assert after is not None and after["n"] == 11

    result = await things.replace_one({"_id": f"{B}-2"}, {"n": 99})
    assert result.matched_count == 0
    await things.replace_one({"_id": f"{A}-2"}, {"n": 99})
    replaced = await raw.find_one({"_id": f"{A}-2"})
    assert replaced is not None and replaced["tenant_id"] == A and replaced["n"] == 99

    # An upsert creates the document in the tenant of the filter.
    await things.update_one({"_id": "new"}, {"$set": {"n": 7}}, upsert=True)
    created = await raw.find_one({"_id": "new"})
    assert created is not None and created["tenant_id"] == A

    assert (await things.delete_one({"_id": f"{B}-3"})).deleted_count == 0
    assert (await things.delete_many({"kind": "even"})).deleted_count == 1  # A-0 (A-2 replaced)
    assert await raw.count_documents({"tenant_id": B}) == 4


async def test_inserts_carry_the_tenant_and_refuse_another(db: AsyncDatabase[Document]) -> None:
    things = tenant_collection(db, "things", A)
    raw = CrossTenant(db)["things"]
    await things.insert_one({"_id": "stamped"})
    await things.insert_many([{"_id": "m1"}, {"_id": "m2", "tenant_id": A}])
    assert await raw.count_documents({"_id": {"$in": ["stamped", "m1", "m2"]}, "tenant_id": A}) == 3
    with pytest.raises(CrossTenantAccess):
        await things.insert_one({"_id": "foreign", "tenant_id": B})
    with pytest.raises(CrossTenantAccess):
        await things.insert_many([{"_id": "ok"}, {"_id": "foreign", "tenant_id": B}])
    with pytest.raises(CrossTenantAccess):
        await things.replace_one({"_id": f"{A}-0"}, {"n": 1, "tenant_id": B})
    # Nothing of a refused batch went in.
    assert await raw.count_documents({"_id": {"$in": ["ok", "foreign"]}}) == 0


async def test_repository_helpers_stay_scoped(db: AsyncDatabase[Document]) -> None:
    repo = _Things(db, A)
    assert isinstance(repo.collection, TenantCollection)
    assert repo.scoped({"n": 1}) == {"n": 1, "tenant_id": A}
    # A call site that still scopes by hand gets the (harmless) double condition.
    assert await repo.collection.count_documents(repo.scoped({"kind": "odd"})) == 2
    found = await repo.find_by_ids([f"{A}-0", f"{A}-1", f"{B}-0", "absent"])
    assert set(found) == {f"{A}-0", f"{A}-1"}
    page = await repo.paginate({}, [SortKey("n"), SortKey("_id")], PageRequest(first=3))
    assert [doc["_id"] for doc, _ in page.items] == [f"{A}-{i}" for i in range(3)]
    assert page.total_count == 4 and page.has_next_page
    rest = await repo.paginate(
        {}, [SortKey("n"), SortKey("_id")], PageRequest(first=3, after=page.items[-1][1])
    )
    assert [doc["_id"] for doc, _ in rest.items] == [f"{A}-3"]
    # Another collection of the same service, same tenant.
    other = repo.tenant_collection("things")
    assert other.tenant_id == A and await other.count_documents({}) == 4
    # The explicitly named way past the tenant sees everyone.
    assert await repo.all_tenants_collection.count_documents({}) == 8


def test_a_tenant_collection_needs_a_tenant(db: AsyncDatabase[Document]) -> None:
    with pytest.raises(ValueError, match="needs a tenant"):
        tenant_collection(db, "things", "")


@pytest.mark.parametrize("point_lookups", [False, True], ids=["in", "points"])
async def test_find_ids_gives_the_same_answer_as_one_in_or_as_point_lookups(
    db: AsyncDatabase[Document], point_lookups: bool
) -> None:
    """`find_ids` on MongoDB ($in) and on FerretDB (one bare ``_id`` lookup per id, tenant and
    ``where`` checked on the document) returns the same documents: this tenant's, matching."""
    view = tenant_collection(db, "things", A)
    ids = [f"{A}-0", f"{A}-1", f"{A}-1", f"{A}-2", f"{B}-0", "absent"]
    found = await view.find_ids(ids, point_lookups=point_lookups)
    assert sorted(doc["_id"] for doc in found) == [f"{A}-0", f"{A}-1", f"{A}-2"]
    odd = await view.find_ids(ids, {"kind": "odd"}, exclude=["n"], point_lookups=point_lookups)
    assert [(doc["_id"], "n" in doc) for doc in odd] == [(f"{A}-1", False)]
    assert await view.find_ids([], point_lookups=point_lookups) == []
    with pytest.raises(ValueError, match="scalar"):
        await view.find_ids(ids, {"n": {"$gt": 1}}, point_lookups=point_lookups)
