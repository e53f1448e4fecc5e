"""GraphQL types of the insights subgraph: reports (each with its CSV) and customer health."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from crm_insights.api.context import principal_of, services_of
from crm_insights.domain import reports as model
from crm_insights.domain.customer_counts import CustomerCounts as CustomerCountsModel
from crm_insights.domain.periods import Bucket
from crm_insights.domain.scope import ReportScope
from crm_insights.service.ports import HealthRecord

ReportBucket = strawberry.enum(Bucket, name="ReportBucket", description="Period of a trend row.")
T = TypeVar("T")


def _copy(cls: type[T], source: Any, **overrides: Any) -> T:
    """Build a GraphQL object from a domain dataclass with the same field names."""
    values = {f.name: getattr(source, f.name) for f in dataclasses.fields(source)}
    values.update(overrides)
    return cls(**values)


@strawberry.type(description="How many of the tenant's customers are in one status.")
class StatusCount:
    status: str = strawberry.field(description="A customer status, e.g. PENDING_REVIEW")
    count: int


@strawberry.type(description="How many customers the tenant has, in all and per status.")
class CustomerCounts:
    total: int
    by_status: list[StatusCount]

    @classmethod
    def from_model(cls, counts: CustomerCountsModel) -> CustomerCounts:
        return cls(
            total=counts.total,
            by_status=[StatusCount(status=c.status, count=c.count) for c in counts.by_status],
        )


@strawberry.input(description="Which facts a report counts; every condition given must hold.")
class ReportFilter:
    start: datetime | None = strawberry.field(
        default=None, name="from", description="Inclusive start (ISO 8601, UTC)"
    )
    end: datetime | None = strawberry.field(
        default=None, name="to", description="Exclusive end (ISO 8601, UTC)"
    )
    customer_type: str | None = strawberry.field(
        default=None, description="The customer's lifecycle status, e.g. INTENTION"
    )
    region: str | None = strawberry.field(default=None, description="The customer's province")
    owner_id: strawberry.ID | None = None
    team: str | None = None

    def to_scope(self, tenant_id: str) -> ReportScope:
        return ReportScope(
            tenant_id=tenant_id,
            start=self.start,
            end=self.end,
            customer_type=self.customer_type,
            region=self.region,
            owner_id=str(self.owner_id) if self.owner_id is not None else None,
            team=self.team,
        )


@strawberry.type(description="A sum of money in one currency (minor units, as a string).")
class ReportAmount:
    currency: str
    amount_minor: str

    @classmethod
    def from_model(cls, amount: model.Amount) -> ReportAmount:
        return cls(currency=amount.currency, amount_minor=str(amount.amount_minor))


def _amounts(amounts: tuple[model.Amount, ...]) -> list[ReportAmount]:
    return [ReportAmount.from_model(a) for a in amounts]


@strawberry.type(description="New customers of one period, type, region and source.")
class GrowthRow:
    period: str
    customer_type: str
    region: str
    source: str
    count: int


@strawberry.type(description="Customer growth per period, type, region and source.")
class CustomerGrowthReport:
    rows: list[GrowthRow]
    total: int
    csv: str

    @classmethod
    def from_model(cls, report: model.CustomerGrowth) -> CustomerGrowthReport:
        return cls(
            rows=[_copy(GrowthRow, r) for r in report.rows], total=report.total, csv=report.csv()
        )


@strawberry.type(description="Opportunities that reached a stage (or a later one).")
class FunnelStage:
    stage: str
    reached: int
    amounts: list[ReportAmount]
    conversion_from_previous: float | None = strawberry.field(
        description="Share (0..1) of the previous stage's opportunities that reached this one"
    )


@strawberry.type(description="Opportunities created in one period and how they ended.")
class ConversionTrendPoint:
    period: str
    created: int
    won: int
    lost: int
    win_rate: float | None


@strawberry.type(description="The sales funnel: stage counts, amounts, conversion, win rate.")
class SalesFunnelReport:
    stages: list[FunnelStage]
    opportunities: int
    won: int
    lost: int
    open: int
    win_rate: float | None = strawberry.field(description="won / (won + lost), 0..1")
    average_cycle_days: float | None = strawberry.field(
        description="Mean days from creation to won, over the won opportunities"
    )
    trend: list[ConversionTrendPoint]
    csv: str

    @classmethod
    def from_model(cls, report: model.SalesFunnel) -> SalesFunnelReport:
        return _copy(
            cls,
            report,
            stages=[_copy(FunnelStage, s, amounts=_amounts(s.amounts)) for s in report.stages],
            trend=[_copy(ConversionTrendPoint, t) for t in report.trend],
            csv=report.csv(),
        )


@strawberry.type(description="Quotes submitted in one period and their decisions.")
class QuoteApprovalPeriod:
    period: str
    submitted: int
    approved: int
    rejected: int


@strawberry.type(description="Quote approval statistics.")
class QuoteApprovalReport:
    submitted: int
    approved_automatically: int
    approved_manually: int
    rejected: int
    pending: int
    approval_rate: float | None
    automatic_share: float | None
    average_decision_hours: float | None = strawberry.field(
        description="Mean hours from submission to a manager's decision"
    )
    accepted: int
    declined: int
    trend: list[QuoteApprovalPeriod]
    csv: str

    @classmethod
    def from_model(cls, report: model.QuoteApprovals) -> QuoteApprovalReport:
        return _copy(
            cls,
            report,
            trend=[_copy(QuoteApprovalPeriod, t) for t in report.trend],
            csv=report.csv(),
        )


@strawberry.type(description="Survey answers of one dimension (in one period, for the trend).")
class DimensionScore:
    period: str | None
    dimension: str
    responses: int
    average_score: float | None
    csat: float | None = strawberry.field(description="Share (0..1) of scores of 4 or 5")


@strawberry.type(description="Satisfaction: CSAT per dimension and its trend.")
class SatisfactionReport:
    dimensions: list[DimensionScore]
    trend: list[DimensionScore]
    surveys_answered: int
    csv: str

    @classmethod
    def from_model(cls, report: model.Satisfaction) -> SatisfactionReport:
        return cls(
            dimensions=[_copy(DimensionScore, d) for d in report.dimensions],
            trend=[_copy(DimensionScore, d) for d in report.trend],
            surveys_answered=report.surveys_answered,
            csv=report.csv(),
        )


@strawberry.type(description="Resolved tickets of one priority or period, within SLA or not.")
class SlaRow:
    key: str
    resolved: int
    within_sla: int
    compliance: float | None


@strawberry.type(description="SLA compliance of tickets.")
class SlaComplianceReport:
    opened: int
    open: int
    resolved: int
    within_sla: int
    compliance: float | None = strawberry.field(description="within SLA / resolved, 0..1")
    breached: int
    by_priority: list[SlaRow]
    trend: list[SlaRow]
    csv: str

    @classmethod
    def from_model(cls, report: model.SlaCompliance) -> SlaComplianceReport:
        return _copy(
            cls,
            report,
            by_priority=[_copy(SlaRow, r) for r in report.by_priority],
            trend=[_copy(SlaRow, r) for r in report.trend],
            csv=report.csv(),
        )


@strawberry.type(description="One owner's or team's figures and rank.")
class LeaderboardRow:
    rank: int
    key: str
    won: int
    won_amounts: list[ReportAmount]
    open_opportunities: int
    interactions: int
    new_customers: int


@strawberry.type(description="Leaderboards by owner and by team.")
class LeaderboardReport:
    owners: list[LeaderboardRow]
    teams: list[LeaderboardRow]
    csv: str

    @classmethod
    def from_model(cls, report: model.Leaderboard) -> LeaderboardReport:
        def rows(board: tuple[model.LeaderboardRow, ...]) -> list[LeaderboardRow]:
            return [_copy(LeaderboardRow, r, won_amounts=_amounts(r.won_amounts)) for r in board]

        return cls(owners=rows(report.owners), teams=rows(report.teams), csv=report.csv())


@strawberry.type(description="One reason behind a health score and the points it adds.")
class HealthDriver:
    model: str = strawberry.field(description="churn or potential")
    name: str
    points: int
    detail: str


@strawberry.type(description="A customer's churn risk and potential (0-100), with drivers.")
class CustomerHealth:
    churn_risk: int
    churn_warning: bool = strawberry.field(description="The churn threshold is crossed")
    potential: int
    drivers: list[HealthDriver]
    computed_at: datetime
    model_version: str

    @classmethod
    def from_record(cls, record: HealthRecord) -> CustomerHealth:
        assert record.computed_at is not None
        return cls(
            churn_risk=record.churn_risk or 0,
            churn_warning=record.churn_raised,
            potential=record.potential or 0,
            drivers=[
                HealthDriver(
                    model=d["model"], name=d["name"], points=d["points"], detail=d["detail"]
                )
                for d in record.drivers
            ],
            computed_at=record.computed_at,
            model_version=record.model_version or "",
        )


@strawberry.federation.type(keys=["id"], description="A customer, as insights sees it.")
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        # Nothing to load here: `health` batches its reads through a DataLoader.
        return cls(id=id)

    @strawberry.field(description="Churn risk and potential; null until scored or if not yours")
    async def health(self, info: strawberry.Info) -> CustomerHealth | None:
        principal = principal_of(info)

        def new_loader() -> DataLoader[str, HealthRecord | None]:
            service = services_of(info).health(principal)
            return DataLoader(load_fn=service.health_of)

        record = await info.context.loader("health", new_loader).load(str(self.id))
        return CustomerHealth.from_record(record) if record is not None else None
