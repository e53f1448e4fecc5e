"""Churn rate, complaint rate, activity effectiveness, improvement tasks and CSAT per channel.
Pure: computed from grouped figures and small fact lists that the adapters hand in.

Rates are fractions 0..1 rounded to four places, ``None`` when there is nothing to divide by
(as in `reports`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_insights.domain.reports import rate, to_csv

CHURNED = "CHURNED"
COMPLAINT = "COMPLAINT"
OPEN_TASK_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})
DEFAULT_WITHIN_DAYS = 30
MAX_WITHIN_DAYS = 365
NO_TEAM = "(no team)"


# --- churn rate ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChurnRow:
    period: str
    customers_at_start: int  # existing and not churned when the period began
    churned: int  # moves into CHURNED during the period
    recovered: int  # moves out of CHURNED during the period
    churn_rate: float | None  # churned / customers_at_start


@dataclass(frozen=True, slots=True)
class ChurnRate:
    rows: tuple[ChurnRow, ...]
    churned: int
    overall_rate: float | None  # churned over the range / customers at the range's start

    def csv(self) -> str:
        return to_csv(
            ["period", "customers_at_start", "churned", "recovered", "churn_rate"],
            (
                (r.period, r.customers_at_start, r.churned, r.recovered, r.churn_rate)
                for r in self.rows
            ),
        )


def churn_rate(
    created: Mapping[str, int],
    moves: Mapping[tuple[str, str, str], int],
    first: str | None,
    last: str | None,
) -> ChurnRate:
    """``created`` per period (all time); ``moves`` per (period, from status, to status), all
    time; report the periods from ``first`` to ``last`` (inclusive keys; None: unbounded).

    The base of a period is every customer created before it minus those churned at its start
    (moves into CHURNED before it minus moves out)."""
    into: dict[str, int] = defaultdict(int)
    out: dict[str, int] = defaultdict(int)
    for (period, from_status, to_status), n in moves.items():
        if to_status == CHURNED and from_status != CHURNED:
            into[period] += n
        elif from_status == CHURNED and to_status != CHURNED:
            out[period] += n
    periods = sorted({p for p in (*created, *into, *out) if p})
    rows: list[ChurnRow] = []
    existing = churned_now = 0
    for period in periods:
        base = existing - churned_now
        if (first is None or period >= first) and (last is None or period <= last):
            rows.append(ChurnRow(period, base, into[period], out[period], rate(into[period], base)))
        existing += created.get(period, 0)
        churned_now += into[period] - out[period]
    total = sum(r.churned for r in rows)
    return ChurnRate(
        rows=tuple(rows),
        churned=total,
        overall_rate=rate(total, rows[0].customers_at_start) if rows else None,
    )


# --- complaint rate -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    period: str
    tickets: int
    complaints: int
    complaining_customers: int
    complaint_rate: float | None  # complaints / tickets


@dataclass(frozen=True, slots=True)
class ComplaintRate:
    rows: tuple[ComplaintRow, ...]
    tickets: int
    complaints: int
    complaint_rate: float | None

    def csv(self) -> str:
        return to_csv(
            ["period", "tickets", "complaints", "complaining_customers", "complaint_rate"],
            (
                (r.period, r.tickets, r.complaints, r.complaining_customers, r.complaint_rate)
                for r in self.rows
            ),
        )


def complaint_rate(
    by_category: Mapping[tuple[str, str], int], complaining: Mapping[str, int]
) -> ComplaintRate:
    """``by_category``: tickets opened per (period, category); ``complaining``: distinct
    customers with a complaint per period."""
    tickets: dict[str, int] = defaultdict(int)
    complaints: dict[str, int] = defaultdict(int)
    for (period, category), n in by_category.items():
        tickets[period] += n
        if category == COMPLAINT:
            complaints[period] += n
    rows = tuple(
        ComplaintRow(
            p, tickets[p], complaints[p], complaining.get(p, 0), rate(complaints[p], tickets[p])
        )
        for p in sorted(tickets)
        if p
    )
    all_tickets, all_complaints = sum(tickets.values()), sum(complaints.values())
    return ComplaintRate(rows, all_tickets, all_complaints, rate(all_complaints, all_tickets))


# --- activity effectiveness ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    activity_id: str
    title: str | None
    kind: str | None
    customer_id: str
    attended_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerAfter:
    """What happened with a customer, as moments: follow-ups scheduled, opportunities created,
    deals won."""

    followups: tuple[datetime, ...] = ()
    opportunities: tuple[datetime, ...] = ()
    deals: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class ActivityRow:
    activity_id: str
    title: str | None
    kind: str | None
    registered: int
    attended: int
    followed_up: int  # attendees with a follow-up scheduled within the window after attending
    opportunities: int  # attendees with an opportunity created within the window
    deals: int  # attendees with a deal won within the window
    attendance_rate: float | None
    follow_up_rate: float | None  # of attendees
    opportunity_rate: float | None
    deal_rate: float | None


@dataclass(frozen=True, slots=True)
class ActivityEffectiveness:
    within_days: int
    activities: tuple[ActivityRow, ...]
    total: ActivityRow

    def csv(self) -> str:
        return to_csv(
            [
                "activity_id",
                "title",
                "kind",
                "registered",
                "attended",
                "followed_up",
                "opportunities",
                "deals",
                "attendance_rate",
                "follow_up_rate",
                "opportunity_rate",
                "deal_rate",
            ],
            (
                (
                    r.activity_id,
                    r.title,
                    r.kind,
                    r.registered,
                    r.attended,
                    r.followed_up,
                    r.opportunities,
                    r.deals,
                    r.attendance_rate,
                    r.follow_up_rate,
                    r.opportunity_rate,
                    r.deal_rate,
                )
                for r in (*self.activities, self.total)
            ),
        )


def _within(moments: Iterable[datetime], start: datetime, window: timedelta) -> bool:
    return any(start <= m <= start + window for m in moments)


def _row(
    activity_id: str,
    title: str | None,
    kind: str | None,
    regs: Sequence[Registration],
    after: Mapping[str, CustomerAfter],
    window: timedelta,
) -> ActivityRow:
    attended = [r for r in regs if r.attended_at is not None]
    followed = opportunities = deals = 0
    for r in attended:
        assert r.attended_at is not None
        seen = after.get(r.customer_id, CustomerAfter())
        followed += _within(seen.followups, r.attended_at, window)
        opportunities += _within(seen.opportunities, r.attended_at, window)
        deals += _within(seen.deals, r.attended_at, window)
    n = len(attended)
    return ActivityRow(
        activity_id,
        title,
        kind,
        len(regs),
        n,
        followed,
        opportunities,
        deals,
        rate(n, len(regs)),
        rate(followed, n),
        rate(opportunities, n),
        rate(deals, n),
    )


def activity_effectiveness(
    registrations: Sequence[Registration],
    after: Mapping[str, CustomerAfter],
    within_days: int,
) -> ActivityEffectiveness:
    """Per activity: registrations → attendance → attendees followed up, with a new
    opportunity, with a deal won, each within ``within_days`` after attending."""
    window = timedelta(days=within_days)
    by_activity: dict[str, list[Registration]] = defaultdict(list)
    for registration in registrations:
        by_activity[registration.activity_id].append(registration)
    rows = []
    for activity_id, regs in sorted(by_activity.items()):
        title = next((r.title for r in regs if r.title), None)
        kind = next((r.kind for r in regs if r.kind), None)
        rows.append(_row(activity_id, title, kind, regs, after, window))
    rows.sort(key=lambda r: (-r.attended, -r.registered, r.activity_id))
    total = _row("TOTAL", None, None, registrations, after, window)
    return ActivityEffectiveness(within_days, tuple(rows), total)


# --- improvement tasks --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskStatusRow:
    team: str
    open: int  # OPEN or IN_PROGRESS
    overdue: int  # open past due
    done: int
    cancelled: int
    closed_late: int  # closed (DONE) after the due time
    on_time_rate: float | None  # DONE in time / DONE


@dataclass(frozen=True, slots=True)
class ImprovementTaskStatus:
    teams: tuple[TaskStatusRow, ...]
    total: TaskStatusRow

    def csv(self) -> str:
        return to_csv(
            ["team", "open", "overdue", "done", "cancelled", "closed_late", "on_time_rate"],
            (
                (r.team, r.open, r.overdue, r.done, r.cancelled, r.closed_late, r.on_time_rate)
                for r in (*self.teams, self.total)
            ),
        )


def _task_row(team: str, status: Mapping[str, int], overdue: int, late: int) -> TaskStatusRow:
    done = status.get("DONE", 0)
    return TaskStatusRow(
        team=team,
        open=sum(n for s, n in status.items() if s in OPEN_TASK_STATUSES),
        overdue=overdue,
        done=done,
        cancelled=status.get("CANCELLED", 0),
        closed_late=late,
        on_time_rate=rate(done - late, done),
    )


def improvement_task_status(
    by_status: Mapping[tuple[str, str], int],
    overdue: Mapping[str, int],
    closed_late: Mapping[str, int],
) -> ImprovementTaskStatus:
    """Figures keyed by team ('' for none): tasks per (team, status), open past due, DONE late."""
    teams = sorted({t for t, _ in by_status} | set(overdue) | set(closed_late))
    rows = []
    all_status: dict[str, int] = defaultdict(int)
    for team in teams:
        status = {s: n for (t, s), n in by_status.items() if t == team}
        for s, n in status.items():
            all_status[s] += n
        rows.append(
            _task_row(team or NO_TEAM, status, overdue.get(team, 0), closed_late.get(team, 0))
        )
    total = _task_row("TOTAL", all_status, sum(overdue.values()), sum(closed_late.values()))
    return ImprovementTaskStatus(tuple(rows), total)


# --- CSAT per channel ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelCsat:
    channel: str  # LINK | PHONE
    surveys_answered: int
    scores: int  # dimension scores given
    average_score: float | None
    csat: float | None  # share of scores of 4-5


@dataclass(frozen=True, slots=True)
class CsatByChannel:
    channels: tuple[ChannelCsat, ...]

    def csv(self) -> str:
        return to_csv(
            ["channel", "surveys_answered", "scores", "average_score", "csat"],
            (
                (c.channel, c.surveys_answered, c.scores, c.average_score, c.csat)
                for c in self.channels
            ),
        )


def csat_by_channel(
    answered: Mapping[str, int],
    scores: Mapping[str, int],
    score_sums: Mapping[str, int],
    satisfied: Mapping[str, int],
) -> CsatByChannel:
    """Figures keyed by channel (answers from before channels were recorded count as LINK)."""

    def fold(values: Mapping[str, int]) -> dict[str, int]:
        folded: dict[str, int] = defaultdict(int)
        for channel, n in values.items():
            folded[channel or "LINK"] += n
        return folded

    answered, scores, score_sums, satisfied = (
        fold(answered),
        fold(scores),
        fold(score_sums),
        fold(satisfied),
    )
    return CsatByChannel(
        tuple(
            ChannelCsat(
                channel=channel,
                surveys_answered=answered.get(channel, 0),
                scores=scores.get(channel, 0),
                average_score=(
                    round(score_sums.get(channel, 0) / scores[channel], 2)
                    if scores.get(channel)
                    else None
                ),
                csat=rate(satisfied.get(channel, 0), scores.get(channel, 0)),
            )
            for channel in sorted({"LINK", "PHONE", *answered, *scores})
        )
    )
