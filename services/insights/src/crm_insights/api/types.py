"""GraphQL types of the insights subgraph."""

from __future__ import annotations

import strawberry

from crm_insights.domain.customer_counts import CustomerCounts as CustomerCountsModel


@strawberry.type(description="How many of the tenant's customers are in one status.")
class StatusCount:
    status: str = strawberry.field(description="A customer status, e.g. PENDING_REVIEW")
    count: int


@strawberry.type(description="How many customers the tenant has, in all and per status.")
class CustomerCounts:
    total: int
    by_status: list[StatusCount]

    @classmethod
    def from_model(cls, model: CustomerCountsModel) -> CustomerCounts:
        return cls(
            total=model.total,
            by_status=[StatusCount(status=c.status, count=c.count) for c in model.by_status],
        )
