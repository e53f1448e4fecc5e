"""Reads of the potential ranking (`service/potential.py`) over the health records."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import Document, tenant_collection
from crm_insights.adapters.mongo import HEALTH, record_of
from crm_insights.domain.potential import Dimension
from crm_insights.service.ports import HealthRecord

# The health record's top-level field per dimension (indexed with the tenant, `mongo.INDEXES`).
FIELDS = {
    Dimension.PURCHASE_POWER: "purchase_power",
    Dimension.GROWTH: "growth",
    Dimension.LOYALTY: "loyalty",
}


class MongoPotentialQueries:
    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._health = tenant_collection(db, HEALTH, tenant_id)

    async def ranking(
        self,
        dimension: Dimension,
        owner_id: str | None,
        team: str | None,
        offset: int,
        limit: int,
    ) -> list[HealthRecord]:
        field = FIELDS[dimension]
        query = _query(field, owner_id, team)
        cursor = self._health.find(
            query,
            sort=[(field, DESCENDING), ("_id", ASCENDING)],
            skip=offset,
            limit=limit,
        )
        return [record_of(doc) async for doc in cursor]

    async def count(self, dimension: Dimension, owner_id: str | None, team: str | None) -> int:
        return await self._health.count_documents(_query(FIELDS[dimension], owner_id, team))


def _query(field: str, owner_id: str | None, team: str | None) -> Document:
    # Unscored and deleted customers have no score (null is not >= 0).
    query: Document = {field: {"$gte": 0}}
    if owner_id is not None:
        query["owner_id"] = owner_id
    if team is not None:
        query["team"] = team
    return query
