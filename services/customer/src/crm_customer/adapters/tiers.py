"""Mongo store of each tenant's value tier thresholds (one document per tenant, by _id)."""

from __future__ import annotations

from crm_common.clock import utc_now
from crm_common.mongo import TenantRepository
from crm_customer.domain.tiers import DEFAULT_THRESHOLDS, TierThresholds

TIER_SETTINGS = "value_tier_settings"


class MongoTierThresholds(TenantRepository):
    collection_name = TIER_SETTINGS

    async def get(self) -> TierThresholds:
        doc = await self.collection.find_one(self.scoped({"_id": self.tenant_id}))
        if doc is None:
            return DEFAULT_THRESHOLDS
        return TierThresholds(
            a_revenue_minor=int(doc["a_revenue_minor"]),
            a_potential_minor=int(doc["a_potential_minor"]),
            b_revenue_minor=int(doc["b_revenue_minor"]),
            b_potential_minor=int(doc["b_potential_minor"]),
        )

    async def put(self, thresholds: TierThresholds, actor_id: str) -> None:
        await self.collection.update_one(
            self.scoped({"_id": self.tenant_id}),
            {
                "$set": {
                    "a_revenue_minor": thresholds.a_revenue_minor,
                    "a_potential_minor": thresholds.a_potential_minor,
                    "b_revenue_minor": thresholds.b_revenue_minor,
                    "b_potential_minor": thresholds.b_potential_minor,
                    "updated_by": actor_id,
                    "updated_at": utc_now(),
                }
            },
            upsert=True,
        )
