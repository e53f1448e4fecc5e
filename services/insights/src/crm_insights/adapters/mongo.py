"""Mongo repositories of the insights read models: all their queries live here."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.mongo import Document, TenantRepository
from crm_insights.domain.customer_counts import SeenCustomer

CUSTOMER_COUNTS = "customer_counts"
CUSTOMERS_SEEN = "customers_seen"

INDEXES = {
    # One document per (tenant, status); `_id` is "<tenant>:<status>".
    CUSTOMER_COUNTS: [
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)], unique=True),
    ],
    # One document per customer (`_id` is the customer id, unique by itself).
    CUSTOMERS_SEEN: [IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)])],
}


class MongoCustomerCountRepository(TenantRepository):
    """Counts per status, derived from the customers seen (the read model's own record).

    A count is never incremented blindly: after recording the customer (once, by id), the
    count of its (tenant, status) is recomputed from ``customers_seen`` and raised to that
    value with ``$max``. Redelivery, a crash between the two writes, and two consumers racing
    on the same status all converge to the right number. (Only creations are counted so far,
    so counts only grow; status changes will need ``$set`` ordered by event time.)
    """

    collection_name = CUSTOMER_COUNTS

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        super().__init__(db, tenant_id)
        self.seen: AsyncCollection[Document] = db[CUSTOMERS_SEEN]

    async def record_new_customer(self, customer: SeenCustomer) -> None:
        try:
            await self.seen.insert_one(
                {"_id": customer.id, "tenant_id": self.tenant_id, "status": customer.status}
            )
        except DuplicateKeyError:
            existing = await self.seen.find_one({"_id": customer.id}, {"tenant_id": 1})
            if existing is None or existing.get("tenant_id") != self.tenant_id:
                raise ValueError("customer id already belongs to another tenant") from None
        count = await self.seen.count_documents(self.scoped({"status": customer.status}))
        await self.collection.update_one(
            {"_id": f"{self.tenant_id}:{customer.status}"},
            {
                "$setOnInsert": {"tenant_id": self.tenant_id, "status": customer.status},
                "$max": {"count": count},
            },
            upsert=True,
        )

    async def counts_by_status(self) -> dict[str, int]:
        cursor = self.collection.find(self.scoped(), {"status": 1, "count": 1})
        return {doc["status"]: int(doc.get("count", 0)) async for doc in cursor}
