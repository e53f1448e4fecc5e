"""Root fields of the insights subgraph."""

from __future__ import annotations

import strawberry

from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_insights.api.context import principal_of, services_of
from crm_insights.api.types import CustomerCounts


@strawberry.type
class Query:
    @strawberry.field(description="Your tenant's customers, counted per status (from events).")
    async def customer_counts(self, info: strawberry.Info) -> CustomerCounts:
        service = services_of(info).reports(principal_of(info))
        return CustomerCounts.from_model(await service.customer_counts())


def schema() -> SubgraphSchema:
    return build_schema(query=Query)
