"""GraphQL types of the service and effectiveness reports (`domain.service_reports`)."""

from __future__ import annotations

import strawberry

from crm_insights.api.types import _copy
from crm_insights.domain import service_reports as model

_CSV = "The whole report as CSV text (header row first), for download."
_PERIOD = "Period key in UTC: 2026-11-23 (DAY), 2026-W48 (ISO WEEK) or 2026-11 (MONTH)."


@strawberry.type(description="Churn in one period.")
class ChurnRow:
    period: str = strawberry.field(description=_PERIOD)
    customers_at_start: int = strawberry.field(
        description="Customers that existed and were not CHURNED when the period began."
    )
    churned: int = strawberry.field(description="Moves into CHURNED during the period.")
    recovered: int = strawberry.field(description="Moves out of CHURNED during the period.")
    churn_rate: float | None = strawberry.field(
        description="churned / customersAtStart, 0..1; null when there was no customer."
    )


@strawberry.type(
    description="Churn rate over time (流失率): customers moving to CHURNED per period, against "
    "the customers there were at its start."
)
class ChurnRateReport:
    rows: list[ChurnRow] = strawberry.field(
        description="One row per period with customers or churn in the range, oldest first."
    )
    churned: int = strawberry.field(description="Moves into CHURNED in all rows.")
    overall_rate: float | None = strawberry.field(
        description="churned / the customers at the start of the first row, 0..1."
    )
    csv: str = strawberry.field(description=_CSV)

    @classmethod
    def from_model(cls, report: model.ChurnRate) -> ChurnRateReport:
        return _copy(cls, report, rows=[_copy(ChurnRow, r) for r in report.rows], csv=report.csv())


@strawberry.type(description="Complaints in one period.")
class ComplaintRow:
    period: str = strawberry.field(description=_PERIOD)
    tickets: int = strawberry.field(description="Tickets opened in the period.")
    complaints: int = strawberry.field(description="Of those, of category COMPLAINT.")
    complaining_customers: int = strawberry.field(
        description="Customers who opened a complaint in the period."
    )
    complaint_rate: float | None = strawberry.field(
        description="complaints / tickets, 0..1; null without tickets."
    )


@strawberry.type(description="Complaint rate over time (投诉率): complaint tickets per period.")
class ComplaintRateReport:
    rows: list[ComplaintRow] = strawberry.field(description="One row per period, oldest first.")
    tickets: int = strawberry.field(description="Tickets opened in the range.")
    complaints: int = strawberry.field(description="Of those, complaints.")
    complaint_rate: float | None = strawberry.field(description="complaints / tickets, 0..1.")
    csv: str = strawberry.field(description=_CSV)

    @classmethod
    def from_model(cls, report: model.ComplaintRate) -> ComplaintRateReport:
        return _copy(
            cls, report, rows=[_copy(ComplaintRow, r) for r in report.rows], csv=report.csv()
        )


@strawberry.type(description="One activity from registration to deals.")
class ActivityEffectivenessRow:
    activity_id: str = strawberry.field(description="Id of the activity; TOTAL for the total.")
    title: str | None = strawberry.field(description="Title of the activity; null if unknown.")
    kind: str | None = strawberry.field(description="Kind (event, training, webinar, ...).")
    registered: int = strawberry.field(description="Registrations.")
    attended: int = strawberry.field(description="Registrations that attended.")
    followed_up: int = strawberry.field(
        description="Attendees with a follow-up scheduled within the window after attending."
    )
    opportunities: int = strawberry.field(
        description="Attendees whose customer had an opportunity created within the window."
    )
    deals: int = strawberry.field(
        description="Attendees whose customer won a deal within the window."
    )
    attendance_rate: float | None = strawberry.field(description="attended / registered, 0..1.")
    follow_up_rate: float | None = strawberry.field(description="followedUp / attended, 0..1.")
    opportunity_rate: float | None = strawberry.field(description="opportunities / attended, 0..1.")
    deal_rate: float | None = strawberry.field(description="deals / attended, 0..1.")


@strawberry.type(
    description="Activity effectiveness (活动效果): registrations → attendance → follow-ups → "
    "opportunities → deals within N days of attending, per activity."
)
class ActivityEffectivenessReport:
    within_days: int = strawberry.field(description="The window after attending, in days.")
    activities: list[ActivityEffectivenessRow] = strawberry.field(
        description="Activities starting in the range, most attended first."
    )
    total: ActivityEffectivenessRow = strawberry.field(description="All of them together.")
    csv: str = strawberry.field(description=_CSV)

    @classmethod
    def from_model(cls, report: model.ActivityEffectiveness) -> ActivityEffectivenessReport:
        return cls(
            within_days=report.within_days,
            activities=[_copy(ActivityEffectivenessRow, r) for r in report.activities],
            total=_copy(ActivityEffectivenessRow, report.total),
            csv=report.csv(),
        )


@strawberry.type(description="One service team's improvement tasks.")
class ImprovementTaskTeamRow:
    team: str = strawberry.field(description="Service team (department); TOTAL for the total.")
    open: int = strawberry.field(description="OPEN or IN_PROGRESS.")
    overdue: int = strawberry.field(description="Of the open ones, past their due time now.")
    done: int = strawberry.field(description="Closed as DONE.")
    cancelled: int = strawberry.field(description="Closed as CANCELLED.")
    closed_late: int = strawberry.field(description="DONE after the due time.")
    on_time_rate: float | None = strawberry.field(
        description="DONE in time / DONE, 0..1; null when none is done."
    )


@strawberry.type(
    description="Improvement tasks (改进任务) opened in the range: open / overdue / closed per "
    "service team."
)
class ImprovementTaskStatusReport:
    teams: list[ImprovementTaskTeamRow] = strawberry.field(description="Per team, by name.")
    total: ImprovementTaskTeamRow = strawberry.field(description="All teams together.")
    csv: str = strawberry.field(description=_CSV)

    @classmethod
    def from_model(cls, report: model.ImprovementTaskStatus) -> ImprovementTaskStatusReport:
        return cls(
            teams=[_copy(ImprovementTaskTeamRow, r) for r in report.teams],
            total=_copy(ImprovementTaskTeamRow, report.total),
            csv=report.csv(),
        )


@strawberry.type(description="Satisfaction of the answers given one way.")
class ChannelCsatRow:
    channel: str = strawberry.field(
        description="LINK (the customer through the link) or PHONE (recorded by an agent)."
    )
    surveys_answered: int = strawberry.field(description="Answered surveys.")
    scores: int = strawberry.field(description="Dimension scores given.")
    average_score: float | None = strawberry.field(description="Mean score 1-5; null if none.")
    csat: float | None = strawberry.field(description="Share of scores of 4 or 5, 0..1.")


@strawberry.type(description="CSAT per answer channel (link or phone follow-up, 电话回访).")
class CsatByChannelReport:
    channels: list[ChannelCsatRow] = strawberry.field(description="LINK and PHONE, always.")
    csv: str = strawberry.field(description=_CSV)

    @classmethod
    def from_model(cls, report: model.CsatByChannel) -> CsatByChannelReport:
        return cls(channels=[_copy(ChannelCsatRow, c) for c in report.channels], csv=report.csv())
