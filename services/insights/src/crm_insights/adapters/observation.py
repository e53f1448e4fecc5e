"""Reads of the observation-period report (`domain.observation`) over the customer facts."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.limits import check_limit, list_limits
from crm_common.mongo import Document, tenant_collection
from crm_insights.domain.observation import OBSERVATION, ObservationReport, observation_report
from crm_insights.domain.scope import ReportScope
from crm_insights.service.ports import Fact


class MongoObservationQueries:
    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._collection = tenant_collection(db, Fact.CUSTOMERS.value, tenant_id)

    async def in_observation(self, scope: ReportScope) -> ObservationReport:
        query: Document = {
            "cadence": OBSERVATION,
            "merged_into": None,
            "deleted": {"$ne": True},
        }
        for field in ("owner_id", "team", "customer_type", "region"):
            value = getattr(scope, field)
            if value is not None:
                query[field] = value
        limit = list_limits().max_report_customers
        facts = [
            doc
            async for doc in self._collection.find(
                query, {"team": 1, "cadence_reason": 1}, limit=limit + 1
            )
        ]
        check_limit(
            len(facts),
            limit,
            "the customers in observation",
            "CRM_MAX_REPORT_CUSTOMERS",
            "narrow the report (team, owner, region)",
            field="filter",
        )
        return observation_report(facts)
