"""Bounded reads of engagement against the real store (FerretDB).

``interactions(first: n)`` on a batch of customers reads at most n + 1 interactions per
customer (never all of them) and still answers totalCount and hasNextPage exactly; the ids of
the customers a rep sees are a bounded set whose limit (``CRM_MAX_VISIBLE_CUSTOMERS``) is a
clear BAD_USER_INPUT error when crossed, never a silent cut.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.stores import lowered_limits, scratch_database

from crm_common.errors import ErrorCode
from crm_common.limits import LimitExceeded
from crm_common.mongo import CrossTenant, Document, TenantCollection
from crm_common.pagination import PageRequest
from crm_engagement.adapters.mongo import (
    INTERACTIONS,
    MongoCustomerRefs,
    MongoInteractionRepository,
)
from crm_engagement.service.ports import InteractionQuery

pytestmark = [pytest.mark.e2e]

TENANT = "t-eng"


class _SpyCollection(TenantCollection):
    """Records the ``limit`` of every find (the wrapper itself is what is measured)."""

    limits: list[int]

    def find(self, filter: Any = None, *args: Any, **kwargs: Any) -> AsyncCursor[Document]:
        self.limits.append(int(kwargs.get("limit", 0)))
        return super().find(filter, *args, **kwargs)


@pytest.fixture
async def db(infra: stack.StackConfig) -> AsyncIterator[AsyncDatabase[Document]]:
    async with scratch_database(infra.mongodb_uri, "engagement-limits-test") as database:
        yield database


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with lowered_limits(monkeypatch, CRM_MAX_VISIBLE_CUSTOMERS="3"):
        yield


def _interaction(customer_id: str, i: int, at: datetime) -> Document:
    return {
        "_id": f"{customer_id}-i{i:02d}",
        "tenant_id": TENANT,
        "customer_id": customer_id,
        "kind": "phone_call",
        "occurred_at": at - timedelta(hours=i),
        "content": f"call {i}",
        "owner_id": "rep",
        "created_at": at,
    }


async def test_first_pages_read_at_most_first_plus_one_per_customer(
    db: AsyncDatabase[Document],
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    counts = {"c-many": 12, "c-exact": 3, "c-one": 1, "c-none": 0}
    docs = [_interaction(cid, i, now) for cid, n in counts.items() for i in range(n)]
    # Another tenant's interactions of the same customer id are never seen.
    docs.append({**_interaction("c-many", 99, now), "_id": "foreign", "tenant_id": "other"})
    await CrossTenant(db)[INTERACTIONS].insert_many(docs)

    repo = MongoInteractionRepository(db, TENANT)
    spy = _SpyCollection(CrossTenant(db)[INTERACTIONS], TENANT)
    spy.limits = []
    repo.collection = spy
    pages = await repo.first_pages(list(counts), 3)

    assert spy.limits and all(0 < limit <= 4 for limit in spy.limits), spy.limits
    many = pages["c-many"]
    assert [i.id for i, _ in many.items] == ["c-many-i00", "c-many-i01", "c-many-i02"]
    assert (many.total_count, many.has_next_page, many.has_previous_page) == (12, True, False)
    exact = pages["c-exact"]
    assert (len(exact.items), exact.total_count, exact.has_next_page) == (3, 3, False)
    assert (len(pages["c-one"].items), pages["c-one"].total_count) == (1, 1)
    none = pages["c-none"]
    assert (none.items, none.total_count, none.has_next_page) == ([], 0, False)

    # The cursor of the last item continues where the first page stopped.
    rest = await repo.list(
        InteractionQuery(customer_ids=["c-many"]), PageRequest(first=20, after=many.items[-1][1])
    )
    assert [i.id for i, _ in rest.items] == [f"c-many-i{i:02d}" for i in range(3, 12)]


async def test_visible_customers_past_the_limit_is_a_clear_error(
    db: AsyncDatabase[Document], small_limits: None
) -> None:
    refs = MongoCustomerRefs(db, TENANT)
    raw = CrossTenant(db)["customer_refs"]
    await raw.insert_many(
        [
            {"_id": f"mine-{i}", "tenant_id": TENANT, "owner_id": "rep", "name": f"C{i}"}
            for i in range(3)
        ]
    )
    assert sorted(await refs.visible_ids("rep", None)) == ["mine-0", "mine-1", "mine-2"]

    await raw.insert_one({"_id": "mine-3", "tenant_id": TENANT, "owner_id": "rep", "name": "C3"})
    with pytest.raises(LimitExceeded) as raised:
        await refs.visible_ids("rep", None)
    error = raised.value
    assert error.code is ErrorCode.BAD_USER_INPUT
    assert "3" in error.message and "CRM_MAX_VISIBLE_CUSTOMERS" in error.message
    assert error.extensions()["setting"] == "CRM_MAX_VISIBLE_CUSTOMERS"
