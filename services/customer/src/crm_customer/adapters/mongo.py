"""Mongo repository of customers: every query of the customer service lives here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import outbox_fields
from crm_common.graphql.filters import to_mongo_filter
from crm_common.mongo import Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey
from crm_customer.domain.customer import (
    Customer,
    CustomerStatus,
    CustomerType,
    Region,
    SourceChannel,
)
from crm_customer.domain.permissions import Visibility
from crm_customer.service.customers import name_conflict

CUSTOMERS = "customers"
COUNTERS = "counters"

INDEXES = {
    CUSTOMERS: [
        IndexModel([("tenant_id", ASCENDING), ("name_key", ASCENDING)], unique=True),
        IndexModel([("tenant_id", ASCENDING), ("number", ASCENDING)], unique=True),
        IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("owner_id", ASCENDING)]),
        IndexModel([("_outbox_pending", ASCENDING)]),
    ],
}

# Filter input attribute -> document path. Only these can be filtered on.
FILTER_PATHS = {
    "id": "_id",
    "number": "number",
    "name": "name",
    "status": "status",
    "customer_type": "customer_type",
    "industry": "industry",
    "source": "source",
    "province": "region.province",
    "city": "region.city",
    "owner_id": "owner_id",
    "team": "team",
    "tags": "tags",
    "created_at": "created_at",
    "updated_at": "updated_at",
}

# Order-by field -> document path; `_id` is appended so every ordering is total.
ORDER_PATHS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "name": "name",
    "number": "number",
}


def _visibility_query(visibility: Visibility) -> Document:
    if visibility.everything:
        return {}
    if visibility.team is not None:
        return {"team": visibility.team}
    return {"owner_id": visibility.owner_id}


def to_document(customer: Customer, name_key: str) -> Document:
    return {
        "_id": customer.id,
        "tenant_id": customer.tenant_id,
        "number": customer.number,
        "name": customer.name,
        "name_key": name_key,
        "status": customer.status.value,
        "customer_type": customer.customer_type.value,
        "owner_id": customer.owner_id,
        "team": customer.team,
        "industry": customer.industry,
        "source": customer.source.value if customer.source else None,
        "region": (
            {"province": customer.region.province, "city": customer.region.city}
            if customer.region
            else None
        ),
        "tags": list(customer.tags),
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "version": 1,
    }


def from_document(doc: Document) -> Customer:
    region = doc.get("region")
    return Customer(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        number=doc["number"],
        name=doc["name"],
        status=CustomerStatus(doc["status"]),
        customer_type=CustomerType(doc["customer_type"]),
        owner_id=doc["owner_id"],
        team=doc.get("team"),
        industry=doc.get("industry"),
        source=SourceChannel(doc["source"]) if doc.get("source") else None,
        region=Region(region["province"], region.get("city")) if region else None,
        tags=tuple(doc.get("tags") or ()),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


class MongoCustomerRepository(TenantRepository):
    collection_name = CUSTOMERS

    async def next_number_sequence(self, day: date) -> int:
        counter = await self._db[COUNTERS].find_one_and_update(
            {"_id": f"{self.tenant_id}:customer:{day:%Y%m%d}"},
            {"$inc": {"seq": 1}, "$set": {"tenant_id": self.tenant_id}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None
        return int(counter["seq"])

    async def find_by_name_key(self, name_key: str) -> Customer | None:
        doc = await self.collection.find_one(self.scoped({"name_key": name_key}))
        return from_document(doc) if doc else None

    async def add(self, customer: Customer, name_key: str, events: Sequence[CloudEvent]) -> None:
        document = {**to_document(customer, name_key), **outbox_fields(events)}
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError as exc:
            existing = await self.find_by_name_key(name_key)
            if existing is not None:
                raise name_conflict(existing) from exc
            raise

    async def get_many(self, ids: Sequence[str], visibility: Visibility) -> dict[str, Customer]:
        query = self.scoped({"_id": {"$in": list(set(ids))}, **_visibility_query(visibility)})
        return {doc["_id"]: from_document(doc) async for doc in self.collection.find(query)}

    async def list(
        self,
        filter_input: Any,
        order_field: str,
        descending: bool,
        page: PageRequest,
        visibility: Visibility,
    ) -> Page[Customer]:
        conditions = [
            c
            for c in (to_mongo_filter(filter_input, FILTER_PATHS), _visibility_query(visibility))
            if c
        ]
        query: Document = {"$and": conditions} if len(conditions) > 1 else (conditions or [{}])[0]
        sort = [SortKey(ORDER_PATHS[order_field], descending), SortKey("_id", descending)]
        return (await self.paginate(query, sort, page)).map(from_document)
