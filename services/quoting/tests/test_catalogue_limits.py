"""The solution library and catalogue lists are bounded sets: past ``CRM_MAX_CATALOGUE_ENTRIES``
they answer a clear BAD_USER_INPUT error instead of a silently cut list (real FerretDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.stores import lowered_limits, scratch_database

from crm_common.errors import ErrorCode
from crm_common.limits import LimitExceeded
from crm_common.mongo import CrossTenant, Document
from crm_quoting.adapters.mongo import CATALOGUE_ITEMS, SOLUTIONS, MongoCatalogueRepository

pytestmark = [pytest.mark.e2e]

TENANT = "t-quoting"


@pytest.fixture
async def db(infra: stack.StackConfig) -> AsyncIterator[AsyncDatabase[Document]]:
    async with scratch_database(infra.mongodb_uri, "quoting-limits-test") as database:
        yield database


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with lowered_limits(monkeypatch, CRM_MAX_CATALOGUE_ENTRIES="2"):
        yield


def _solution(i: int, tenant: str = TENANT) -> Document:
    return {
        "_id": f"{tenant}-s{i}",
        "tenant_id": tenant,
        "name": f"Solution {i}",
        "kind": "STANDARD_PRODUCT",
        "description": "",
        "created_at": datetime.now(UTC),
    }


def _item(i: int, solution_id: str) -> Document:
    return {
        "_id": f"item-{i}",
        "tenant_id": TENANT,
        "solution_id": solution_id,
        "code": f"C{i}",
        "name": f"Item {i}",
        "unit": "pc",
        "prices": [],
        "price_version": 0,
        "created_at": datetime.now(UTC),
    }


async def test_solutions_past_the_limit_are_a_clear_error(
    db: AsyncDatabase[Document], small_limits: None
) -> None:
    repo = MongoCatalogueRepository(db, TENANT)
    raw = CrossTenant(db)[SOLUTIONS]
    # Other tenants' solutions never count.
    await raw.insert_many([_solution(1), _solution(2), *(_solution(i, "other") for i in range(5))])
    assert [s.name for s in await repo.solutions()] == ["Solution 1", "Solution 2"]

    await raw.insert_one(_solution(3))
    with pytest.raises(LimitExceeded) as raised:
        await repo.solutions()
    assert raised.value.code is ErrorCode.BAD_USER_INPUT
    assert "limit of 2" in raised.value.message
    assert raised.value.extensions()["setting"] == "CRM_MAX_CATALOGUE_ENTRIES"


async def test_catalogue_items_past_the_limit_say_how_to_narrow(
    db: AsyncDatabase[Document], small_limits: None
) -> None:
    repo = MongoCatalogueRepository(db, TENANT)
    raw = CrossTenant(db)[CATALOGUE_ITEMS]
    await raw.insert_many([_item(1, "s-a"), _item(2, "s-a"), _item(3, "s-b")])
    with pytest.raises(LimitExceeded) as raised:
        await repo.items(None)
    assert "solutionId" in raised.value.message
    # One solution's items are within the limit.
    assert [i.code for i in await repo.items("s-a")] == ["C1", "C2"]
    await raw.insert_one(_item(4, "s-a"))
    with pytest.raises(LimitExceeded) as raised:
        await repo.items("s-a")
    assert raised.value.field == "solutionId"
