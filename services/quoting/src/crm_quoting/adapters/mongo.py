"""Mongo repository of opportunities: every query of the quoting service lives here."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from crm_common.mongo import Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey
from crm_quoting.domain.opportunity import Opportunity, OpportunityStage
from crm_quoting.domain.permissions import Visibility

OPPORTUNITIES = "opportunities"

INDEXES = {
    OPPORTUNITIES: [
        IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("owner_id", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
    ],
}

_NEWEST_FIRST = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]


def _visibility_query(visibility: Visibility) -> Document:
    return {} if visibility.everything else {"owner_id": visibility.owner_id}


def to_document(opportunity: Opportunity) -> Document:
    return {
        "_id": opportunity.id,
        "tenant_id": opportunity.tenant_id,
        "customer_id": opportunity.customer_id,
        "name": opportunity.name,
        "stage": opportunity.stage.value,
        "owner_id": opportunity.owner_id,
        "created_at": opportunity.created_at,
    }


def from_document(doc: Document) -> Opportunity:
    return Opportunity(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        name=doc["name"],
        stage=OpportunityStage(doc["stage"]),
        owner_id=doc["owner_id"],
        created_at=doc["created_at"],
    )


class MongoOpportunityRepository(TenantRepository):
    collection_name = OPPORTUNITIES

    async def add(self, opportunity: Opportunity) -> None:
        await self.collection.insert_one(to_document(opportunity))

    async def get(self, opportunity_id: str, visibility: Visibility) -> Opportunity | None:
        query = self.scoped({"_id": opportunity_id, **_visibility_query(visibility)})
        doc = await self.collection.find_one(query)
        return from_document(doc) if doc else None

    async def list(
        self, customer_id: str | None, page: PageRequest, visibility: Visibility
    ) -> Page[Opportunity]:
        query = _visibility_query(visibility)
        if customer_id is not None:
            query["customer_id"] = customer_id
        return (await self.paginate(query, _NEWEST_FIRST, page)).map(from_document)
