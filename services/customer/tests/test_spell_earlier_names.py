"""The one-time migration that spells earlier customers' names in pinyin, on the real store,
run by two replicas at once (as two processes starting together would)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import stack
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_customer.adapters.mongo import CUSTOMERS, INDEXES, spell_earlier_names


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "spelling", INDEXES) as databases:
        yield databases


async def test_two_replicas_spell_earlier_names_once_and_leave_renames_alone(
    replicas: ReplicaDatabases,
) -> None:
    first, second = replicas
    earlier = [
        {"_id": str(uuid.uuid4()), "tenant_id": tenant, "name": name}
        for tenant, name in (("t1", "杭州西湖茶叶"), ("t2", "重庆火锅"), ("t1", "Acme"))
    ]
    spelled_already = {
        "_id": str(uuid.uuid4()),
        "tenant_id": "t1",
        "name": "新名字",
        "name_pinyin": "xinmingzi",
        "name_initials": "xmz",
    }
    await first[CUSTOMERS].insert_many([*earlier, spelled_already])

    counts = await asyncio.gather(spell_earlier_names(first), spell_earlier_names(second))

    assert sum(counts) >= len(earlier)  # a race may spell one twice, the same way
    stored = {doc["name"]: doc async for doc in first[CUSTOMERS].find({})}
    assert (stored["杭州西湖茶叶"]["name_pinyin"], stored["杭州西湖茶叶"]["name_initials"]) == (
        "hangzhouxihuchaye",
        "hzxhcy",
    )
    assert stored["重庆火锅"]["name_initials"] == "cqhg"
    assert stored["Acme"]["name_pinyin"] == "acme"
    assert stored["新名字"]["name_initials"] == "xmz"
    assert await spell_earlier_names(first) == 0  # nothing left: the next start does nothing
