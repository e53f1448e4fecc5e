"""Report use cases: the figures of one scope, as reports (each with its CSV form)."""

from __future__ import annotations

from crm_common.auth import Principal
from crm_insights.domain.customer_counts import CustomerCounts, summarize
from crm_insights.domain.periods import Bucket
from crm_insights.domain.permissions import can_read_reports
from crm_insights.domain.reports import (
    CustomerGrowth,
    Leaderboard,
    QuoteApprovals,
    SalesFunnel,
    Satisfaction,
    SlaCompliance,
    customer_growth,
    quote_approvals,
    ranking,
    sales_funnel,
    satisfaction,
    sla_compliance,
)
from crm_insights.domain.scope import ReportScope, scope_for
from crm_insights.service.ports import ReportQueries


class ReportService:
    """Use cases for one request's principal; the queries are bound to its tenant."""

    def __init__(self, principal: Principal, queries: ReportQueries) -> None:
        self._principal = principal
        self._queries = queries

    def _scope(self, requested: ReportScope) -> ReportScope:
        return scope_for(self._principal, requested)

    async def customer_counts(self) -> CustomerCounts:
        can_read_reports(self._principal)
        return summarize(
            await self._queries.counts_by_status(), await self._queries.counts_by_value_tier()
        )

    async def customer_growth(self, requested: ReportScope, bucket: Bucket) -> CustomerGrowth:
        scope = self._scope(requested)
        return customer_growth(await self._queries.growth_counts(scope, bucket))

    async def sales_funnel(self, requested: ReportScope, bucket: Bucket) -> SalesFunnel:
        scope = self._scope(requested)
        return sales_funnel(*await self._queries.funnel_figures(scope, bucket))

    async def quote_approvals(self, requested: ReportScope, bucket: Bucket) -> QuoteApprovals:
        scope = self._scope(requested)
        return quote_approvals(*await self._queries.quote_figures(scope, bucket))

    async def satisfaction(self, requested: ReportScope, bucket: Bucket) -> Satisfaction:
        scope = self._scope(requested)
        return satisfaction(*await self._queries.satisfaction_figures(scope, bucket))

    async def sla_compliance(self, requested: ReportScope, bucket: Bucket) -> SlaCompliance:
        scope = self._scope(requested)
        return sla_compliance(*await self._queries.sla_figures(scope, bucket))

    async def leaderboard(self, requested: ReportScope) -> Leaderboard:
        scope = self._scope(requested)
        return Leaderboard(
            owners=ranking(await self._queries.performer_figures(scope, "owner")),
            teams=ranking(await self._queries.performer_figures(scope, "team")),
        )
