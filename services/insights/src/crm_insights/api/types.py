"""GraphQL types of the insights subgraph: reports (each with its CSV) and customer health."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import strawberry
from strawberry.dataloader import DataLoader

from crm_insights.api.context import principal_of, services_of
from crm_insights.api.potential import CustomerPotential
from crm_insights.domain import reports as model
from crm_insights.domain.customer_counts import CustomerCounts as CustomerCountsModel
from crm_insights.domain.periods import Bucket
from crm_insights.domain.scope import ReportScope, report_window
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
    count: int = strawberry.field(description="How many customers are in this status.")


@strawberry.type(description="How many customers are in one value tier.")
class TierCount:
    tier: str = strawberry.field(description="A value tier: A, B or C (按价值划分).")
    count: int = strawberry.field(description="How many customers are in this tier.")


@strawberry.type(description="How many customers the tenant has, in all and per status.")
class CustomerCounts:
    total: int = strawberry.field(
        description="How many customers the tenant has (deleted ones excluded)."
    )
    by_status: list[StatusCount] = strawberry.field(
        description="Counts per customer status; statuses with no customers are left out."
    )
    by_value_tier: list[TierCount] = strawberry.field(
        description="Counts per value tier (A/B/C); tiers with no customers are left out, and "
        "customers whose events carried no tier (older ones) are not counted."
    )

    @classmethod
    def from_model(cls, counts: CustomerCountsModel) -> CustomerCounts:
        return cls(
            total=counts.total,
            by_status=[StatusCount(status=c.status, count=c.count) for c in counts.by_status],
            by_value_tier=[TierCount(tier=c.tier, count=c.count) for c in counts.by_value_tier],
        )


@strawberry.input(description="Which facts a report counts; every condition given must hold.")
class ReportFilter:
    start: datetime | None = strawberry.field(
        default=None,
        name="from",
        description="Inclusive start (ISO 8601). With an offset (`Z`, `+08:00`) that instant; "
        "without one, the tenant's local time. Not together with `fromDate`.",
    )
    end: datetime | None = strawberry.field(
        default=None,
        name="to",
        description="Exclusive end (ISO 8601), read like `from`. Not together with `toDate`.",
    )
    from_date: date | None = strawberry.field(
        default=None,
        description="First day counted (inclusive), a local date in the tenant's time zone: "
        '`fromDate: "2026-12-01"` starts at midnight there.',
    )
    to_date: date | None = strawberry.field(
        default=None,
        description="Last day counted (inclusive), a local date in the tenant's time zone.",
    )
    customer_type: str | None = strawberry.field(
        default=None,
        description="The customer's type (POTENTIAL, INTENTION, DEAL, LONG_TERM, CHURNED); "
        "for customers created before events carried it, the lifecycle status",
    )
    region: str | None = strawberry.field(default=None, description="The customer's province")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only this owner's figures (user id); sales reps always get their own.",
    )
    team: str | None = strawberry.field(
        default=None,
        description="Only this sales team's figures; a sales rep may only name their own team.",
    )

    def to_scope(self, tenant_id: str, zone: ZoneInfo) -> ReportScope:
        """The scope in the tenant's zone ``zone`` (local times and dates become instants)."""
        start, end = report_window(
            start=self.start,
            end=self.end,
            first_day=self.from_date,
            last_day=self.to_date,
            zone=zone,
        )
        return ReportScope(
            tenant_id=tenant_id,
            start=start,
            end=end,
            customer_type=self.customer_type,
            region=self.region,
            owner_id=str(self.owner_id) if self.owner_id is not None else None,
            team=self.team,
            zone=zone,
        )


async def report_scope(info: strawberry.Info, filter: ReportFilter | None) -> ReportScope:
    """The caller's filter as a scope in their tenant's time zone."""
    tenant_id = principal_of(info).tenant_id
    zone = await services_of(info).zone_of(tenant_id)
    return (filter or ReportFilter()).to_scope(tenant_id, zone)


@strawberry.type(description="A sum of money in one currency (minor units, as a string).")
class ReportAmount:
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    amount_minor: str = strawberry.field(
        description="Sum in integer minor units (fen, cents), as a string."
    )

    @classmethod
    def from_model(cls, amount: model.Amount) -> ReportAmount:
        return cls(currency=amount.currency, amount_minor=str(amount.amount_minor))


def _amounts(amounts: tuple[model.Amount, ...]) -> list[ReportAmount]:
    return [ReportAmount.from_model(a) for a in amounts]


@strawberry.type(description="New customers of one period, type, region and source.")
class GrowthRow:
    period: str = strawberry.field(
        description="Period key in UTC: 2026-11-23 (DAY), 2026-W48 (ISO WEEK) or 2026-11 (MONTH)."
    )
    customer_type: str = strawberry.field(description="Customer type, or UNKNOWN.")
    region: str = strawberry.field(description="Province, or UNKNOWN.")
    source: str = strawberry.field(description="Source channel, or UNKNOWN.")
    count: int = strawberry.field(description="How many customers were created.")


@strawberry.type(description="Customer growth per period, type, region and source.")
class CustomerGrowthReport:
    rows: list[GrowthRow] = strawberry.field(
        description="New customers per period, type, region and source, sorted by those keys."
    )
    total: int = strawberry.field(description="New customers in all rows.")
    csv: str = strawberry.field(
        description="The whole report as CSV text (header row first), for download."
    )

    @classmethod
    def from_model(cls, report: model.CustomerGrowth) -> CustomerGrowthReport:
        return cls(
            rows=[_copy(GrowthRow, r) for r in report.rows], total=report.total, csv=report.csv()
        )


@strawberry.type(description="Opportunities that reached a stage (or a later one).")
class FunnelStage:
    stage: str = strawberry.field(description="Pipeline stage name, e.g. INITIAL_CONTACT, WON.")
    reached: int = strawberry.field(description="Opportunities at this stage or a later one.")
    amounts: list[ReportAmount] = strawberry.field(
        description="Sum of their amounts per currency (never mixed)."
    )
    conversion_from_previous: float | None = strawberry.field(
        description="Share (0..1) of the previous stage's opportunities that reached this one"
    )


@strawberry.type(description="Opportunities created in one period and how they ended.")
class ConversionTrendPoint:
    period: str = strawberry.field(
        description="Period key in UTC: 2026-11-23 (DAY), 2026-W48 (ISO WEEK) or 2026-11 (MONTH)."
    )
    created: int = strawberry.field(description="Opportunities created in the period.")
    won: int = strawberry.field(description="Of those, how many were won.")
    lost: int = strawberry.field(description="Of those, how many were lost.")
    win_rate: float | None = strawberry.field(
        description="won / (won + lost), 0..1 rounded to 4 places; null if nothing to divide by."
    )


@strawberry.type(description="The sales funnel: stage counts, amounts, conversion, win rate.")
class SalesFunnelReport:
    stages: list[FunnelStage] = strawberry.field(
        description="Every funnel stage in pipeline order, with cumulative counts."
    )
    opportunities: int = strawberry.field(description="Opportunities counted in all.")
    won: int = strawberry.field(description="Of those, won.")
    lost: int = strawberry.field(description="Of those, lost.")
    open: int = strawberry.field(description="Of those, still open.")
    win_rate: float | None = strawberry.field(description="won / (won + lost), 0..1")
    average_cycle_days: float | None = strawberry.field(
        description="Mean days from creation to won, over the won opportunities"
    )
    trend: list[ConversionTrendPoint] = strawberry.field(
        description="Created, won and lost per period, oldest first."
    )
    csv: str = strawberry.field(
        description="The whole report as CSV text (header row first), for download."
    )

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
    period: str = strawberry.field(
        description="Period key in UTC: 2026-11-23 (DAY), 2026-W48 (ISO WEEK) or 2026-11 (MONTH)."
    )
    submitted: int = strawberry.field(description="Quotes submitted in the period.")
    approved: int = strawberry.field(
        description="Of those, approved (automatically or by a manager)."
    )
    rejected: int = strawberry.field(description="Of those, rejected by a manager.")


@strawberry.type(description="Quote approval statistics.")
class QuoteApprovalReport:
    submitted: int = strawberry.field(description="Quotes submitted for approval.")
    approved_automatically: int = strawberry.field(
        description="Approved automatically (discount under the tenant threshold)."
    )
    approved_manually: int = strawberry.field(description="Approved by a sales manager.")
    rejected: int = strawberry.field(description="Rejected by a sales manager.")
    pending: int = strawberry.field(description="Still waiting for a decision.")
    approval_rate: float | None = strawberry.field(
        description="approved / decided, 0..1 rounded to 4 places; null if nothing to divide by."
    )
    automatic_share: float | None = strawberry.field(
        description="automatic / all approvals, 0..1 rounded to 4 places; null if nothing to "
        "divide by."
    )
    average_decision_hours: float | None = strawberry.field(
        description="Mean hours from submission to a manager's decision"
    )
    accepted: int = strawberry.field(description="Sent quotes the customer accepted.")
    declined: int = strawberry.field(description="Sent quotes the customer rejected.")
    trend: list[QuoteApprovalPeriod] = strawberry.field(
        description="Submissions and decisions per period, oldest first."
    )
    csv: str = strawberry.field(
        description="The whole report as CSV text (header row first), for download."
    )

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
    period: str | None = strawberry.field(
        description="Period key in UTC: 2026-11-23 (DAY), 2026-W48 (ISO WEEK) or 2026-11 (MONTH); "
        "null in the overall figures."
    )
    dimension: str = strawberry.field(description="Key of the survey dimension.")
    responses: int = strawberry.field(description="How many answers scored it.")
    average_score: float | None = strawberry.field(
        description="Mean score, 1 to 5; null if no answers."
    )
    csat: float | None = strawberry.field(description="Share (0..1) of scores of 4 or 5")


@strawberry.type(description="Satisfaction: CSAT per dimension and its trend.")
class SatisfactionReport:
    dimensions: list[DimensionScore] = strawberry.field(
        description="CSAT per dimension over the whole range."
    )
    trend: list[DimensionScore] = strawberry.field(
        description="CSAT per dimension and period, oldest first."
    )
    surveys_answered: int = strawberry.field(description="How many surveys were answered.")
    csv: str = strawberry.field(
        description="The whole report as CSV text (header row first), for download."
    )

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
    key: str = strawberry.field(
        description="Ticket priority (byPriority) or period key such as 2026-11 (trend)."
    )
    resolved: int = strawberry.field(description="Tickets resolved.")
    within_sla: int = strawberry.field(
        description="Of those, resolved by their resolution due time."
    )
    compliance: float | None = strawberry.field(
        description="withinSla / resolved, 0..1 rounded to 4 places; null if nothing to divide by."
    )


@strawberry.type(description="SLA compliance of tickets.")
class SlaComplianceReport:
    opened: int = strawberry.field(description="Tickets opened.")
    open: int = strawberry.field(description="Of those, not yet resolved.")
    resolved: int = strawberry.field(description="Tickets resolved.")
    within_sla: int = strawberry.field(
        description="Of those, resolved by their resolution due time."
    )
    compliance: float | None = strawberry.field(description="within SLA / resolved, 0..1")
    breached: int = strawberry.field(
        description="Tickets whose response or resolution SLA was breached."
    )
    by_priority: list[SlaRow] = strawberry.field(
        description="Compliance per ticket priority (key = priority)."
    )
    trend: list[SlaRow] = strawberry.field(
        description="Compliance per period (key = period), oldest first."
    )
    csv: str = strawberry.field(
        description="The whole report as CSV text (header row first), for download."
    )

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
    rank: int = strawberry.field(
        description="Position, 1 for the best (by deals won, then interactions, then new "
        "customers)."
    )
    key: str = strawberry.field(description="User id (owner board) or team name (team board).")
    won: int = strawberry.field(description="Opportunities won.")
    won_amounts: list[ReportAmount] = strawberry.field(
        description="Amounts of the won opportunities, per currency."
    )
    open_opportunities: int = strawberry.field(description="Opportunities still open.")
    interactions: int = strawberry.field(description="Interactions logged.")
    new_customers: int = strawberry.field(description="Customers created.")


@strawberry.type(description="Leaderboards by owner and by team.")
class LeaderboardReport:
    owners: list[LeaderboardRow] = strawberry.field(
        description="One row per owner (key = user id), best first."
    )
    teams: list[LeaderboardRow] = strawberry.field(
        description="One row per team (key = team name), best first."
    )
    csv: str = strawberry.field(
        description="The whole report as CSV text (header row first), for download."
    )

    @classmethod
    def from_model(cls, report: model.Leaderboard) -> LeaderboardReport:
        def rows(board: tuple[model.LeaderboardRow, ...]) -> list[LeaderboardRow]:
            return [_copy(LeaderboardRow, r, won_amounts=_amounts(r.won_amounts)) for r in board]

        return cls(owners=rows(report.owners), teams=rows(report.teams), csv=report.csv())


@strawberry.type(description="One reason behind a health score and the points it adds.")
class HealthDriver:
    model: str = strawberry.field(description="churn or potential")
    name: str = strawberry.field(description="Machine name of the reason, e.g. interaction_drop.")
    points: int = strawberry.field(description="Points it adds to the score.")
    detail: str = strawberry.field(description="The reason in words, for people.")


@strawberry.type(description="A customer's churn risk and potential (0-100), with drivers.")
class CustomerHealth:
    churn_risk: int = strawberry.field(
        description="Churn risk score, 0 (safe) to 100 (about to churn)."
    )
    churn_warning: bool = strawberry.field(description="The churn threshold is crossed")
    potential: int = strawberry.field(description="Potential score, 0 (low) to 100 (high).")
    drivers: list[HealthDriver] = strawberry.field(
        description="The reasons behind both scores, with the points each adds."
    )
    computed_at: datetime = strawberry.field(
        description="When the scores were last computed (ISO 8601, UTC)."
    )
    model_version: str = strawberry.field(
        description="Version of the scoring rules that computed them."
    )

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
    id: strawberry.ID = strawberry.field(
        description="Id of the customer (owned by the customer service)."
    )

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

    @strawberry.field(
        description="Purchase power, growth potential and loyalty (model potential-v2) with "
        "their drivers; null until scored, for a deleted customer, or if not yours to see (a "
        "sales rep: own customers; a sales manager: their team's)."
    )
    async def potential(self, info: strawberry.Info) -> CustomerPotential | None:
        principal = principal_of(info)

        def new_loader() -> DataLoader[str, HealthRecord | None]:
            service = services_of(info).potential(principal)
            return DataLoader(load_fn=service.potential_of)

        record = await info.context.loader("potential", new_loader).load(str(self.id))
        return CustomerPotential.from_record(record) if record is not None else None
