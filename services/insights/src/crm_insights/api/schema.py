"""Root fields of the insights subgraph: the reports."""

from __future__ import annotations

from typing import Annotated

import strawberry

from crm_common.graphql.relay import Connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_insights.api.context import principal_of, services_of
from crm_insights.api.observation import (
    OBSERVATION_REPORT_DESCRIPTION,
    ObservationReport,
    observation_report,
)
from crm_insights.api.potential import (
    POTENTIAL_RANKING_DESCRIPTION,
    PotentialRankingRow,
    potential_ranking,
)
from crm_insights.api.service_report_types import (
    ActivityEffectivenessReport,
    ChurnRateReport,
    ComplaintRateReport,
    CsatByChannelReport,
    ImprovementTaskStatusReport,
)
from crm_insights.api.types import (
    Customer,
    CustomerCounts,
    CustomerGrowthReport,
    LeaderboardReport,
    QuoteApprovalReport,
    ReportBucket,
    ReportFilter,
    SalesFunnelReport,
    SatisfactionReport,
    SlaComplianceReport,
    report_scope,
)
from crm_insights.domain.periods import Bucket
from crm_insights.domain.scope import ReportScope
from crm_insights.domain.service_reports import DEFAULT_WITHIN_DAYS
from crm_insights.service.reports import ReportService
from crm_insights.service.service_reports import ServiceReportService


async def _report(
    info: strawberry.Info, filter: ReportFilter | None
) -> tuple[ReportService, ReportScope]:
    return services_of(info).reports(principal_of(info)), await report_scope(info, filter)


@strawberry.type
class Query:
    potential_ranking: Connection[PotentialRankingRow] = strawberry.field(
        resolver=potential_ranking, description=POTENTIAL_RANKING_DESCRIPTION
    )
    observation_report: ObservationReport = strawberry.field(
        resolver=observation_report, description=OBSERVATION_REPORT_DESCRIPTION
    )

    @strawberry.field(description="Your tenant's customers, counted per status (from events).")
    async def customer_counts(self, info: strawberry.Info) -> CustomerCounts:
        service = services_of(info).reports(principal_of(info))
        return CustomerCounts.from_model(await service.customer_counts())

    @strawberry.field(description="New customers per period, type, region and source.")
    async def customer_growth(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        bucket: ReportBucket = Bucket.MONTH,  # type: ignore[valid-type]
    ) -> CustomerGrowthReport:
        service, scope = await _report(info, filter)
        return CustomerGrowthReport.from_model(await service.customer_growth(scope, bucket))

    @strawberry.field(description="Opportunities created in the range, through the pipeline.")
    async def sales_funnel(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        bucket: ReportBucket = Bucket.MONTH,  # type: ignore[valid-type]
    ) -> SalesFunnelReport:
        service, scope = await _report(info, filter)
        return SalesFunnelReport.from_model(await service.sales_funnel(scope, bucket))

    @strawberry.field(description="Quotes submitted in the range: approvals and responses.")
    async def quote_approvals(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        bucket: ReportBucket = Bucket.MONTH,  # type: ignore[valid-type]
    ) -> QuoteApprovalReport:
        service, scope = await _report(info, filter)
        return QuoteApprovalReport.from_model(await service.quote_approvals(scope, bucket))

    @strawberry.field(description="Survey answers in the range: CSAT per dimension and trend.")
    async def satisfaction(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        bucket: ReportBucket = Bucket.MONTH,  # type: ignore[valid-type]
    ) -> SatisfactionReport:
        service, scope = await _report(info, filter)
        return SatisfactionReport.from_model(await service.satisfaction(scope, bucket))

    @strawberry.field(description="Tickets opened / resolved in the range against their SLA.")
    async def sla_compliance(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        bucket: ReportBucket = Bucket.MONTH,  # type: ignore[valid-type]
    ) -> SlaComplianceReport:
        service, scope = await _report(info, filter)
        return SlaComplianceReport.from_model(await service.sla_compliance(scope, bucket))

    @strawberry.field(description="Owners and teams ranked by deals won in the range.")
    async def leaderboard(
        self, info: strawberry.Info, filter: ReportFilter | None = None
    ) -> LeaderboardReport:
        service, scope = await _report(info, filter)
        return LeaderboardReport.from_model(await service.leaderboard(scope))

    @strawberry.field(description="Churn rate per period (customers moving to CHURNED).")
    async def churn_rate(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        bucket: ReportBucket = Bucket.MONTH,  # type: ignore[valid-type]
    ) -> ChurnRateReport:
        service, scope = await _service_report(info, filter)
        return ChurnRateReport.from_model(await service.churn_rate(scope, bucket))

    @strawberry.field(description="Complaint tickets against all tickets opened, per period.")
    async def complaint_rate(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        bucket: ReportBucket = Bucket.MONTH,  # type: ignore[valid-type]
    ) -> ComplaintRateReport:
        service, scope = await _service_report(info, filter)
        return ComplaintRateReport.from_model(await service.complaint_rate(scope, bucket))

    @strawberry.field(
        description="Activities starting in the range: registrations → attendance → follow-ups "
        "→ opportunities → deals within `withinDays` after attending."
    )
    async def activity_effectiveness(
        self,
        info: strawberry.Info,
        filter: ReportFilter | None = None,
        within_days: Annotated[
            int, strawberry.argument(description="The window after attending, 1-365 days.")
        ] = DEFAULT_WITHIN_DAYS,
    ) -> ActivityEffectivenessReport:
        service, scope = await _service_report(info, filter)
        report = await service.activity_effectiveness(scope, within_days)
        return ActivityEffectivenessReport.from_model(report)

    @strawberry.field(
        description="Improvement tasks opened in the range: open, overdue and closed per team."
    )
    async def improvement_task_status(
        self, info: strawberry.Info, filter: ReportFilter | None = None
    ) -> ImprovementTaskStatusReport:
        service, scope = await _service_report(info, filter)
        return ImprovementTaskStatusReport.from_model(await service.improvement_task_status(scope))

    @strawberry.field(description="Survey answers in the range: CSAT per channel (link, phone).")
    async def csat_by_channel(
        self, info: strawberry.Info, filter: ReportFilter | None = None
    ) -> CsatByChannelReport:
        service, scope = await _service_report(info, filter)
        return CsatByChannelReport.from_model(await service.csat_by_channel(scope))


async def _service_report(
    info: strawberry.Info, filter: ReportFilter | None
) -> tuple[ServiceReportService, ReportScope]:
    return services_of(info).service_reports(principal_of(info)), await report_scope(info, filter)


def schema() -> SubgraphSchema:
    return build_schema(query=Query, types=[Customer])
