"""The reports, computed from pre-aggregated read-model figures. Pure: no I/O.

Adapters hand in grouped counts and sums (one ``$group`` each); these functions turn them into
rates, cumulative funnel figures, rankings and CSV text. Rates are fractions 0..1 rounded to
four places, ``None`` when there is nothing to divide by. Money stays integer minor units per
currency and is never summed across currencies.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

# Pipeline order of an opportunity; WON is the last "stage" a deal can reach. LOST is an
# outcome, not a stage: a lost deal counts as having reached the stages it went through.
FUNNEL_STAGES: tuple[str, ...] = (
    "INITIAL_CONTACT",
    "NEEDS_ANALYSIS",
    "SOLUTION",
    "QUOTE",
    "NEGOTIATION",
    "WON",
)
SATISFIED_SCORE = 4  # CSAT counts the answers of 4 or 5 (out of 5)
UNKNOWN = "UNKNOWN"


def stage_index(stage: str | None) -> int:
    """Position of ``stage`` in the funnel, -1 for LOST/unknown stages."""
    try:
        return FUNNEL_STAGES.index(stage or "")
    except ValueError:
        return -1


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Amount:
    currency: str
    amount_minor: int


def _amounts(by_currency: Mapping[str, int]) -> tuple[Amount, ...]:
    return tuple(Amount(c, v) for c, v in sorted(by_currency.items()) if c)


def _amounts_text(amounts: Sequence[Amount]) -> str:
    return ";".join(f"{a.amount_minor} {a.currency}" for a in amounts)


# --- customer growth -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrowthRow:
    period: str
    customer_type: str
    region: str
    source: str
    count: int


@dataclass(frozen=True, slots=True)
class CustomerGrowth:
    rows: tuple[GrowthRow, ...]
    total: int

    def csv(self) -> str:
        return to_csv(
            ["period", "customer_type", "region", "source", "new_customers"],
            ((r.period, r.customer_type, r.region, r.source, r.count) for r in self.rows),
        )


def customer_growth(counts: Mapping[tuple[str, str, str, str], int]) -> CustomerGrowth:
    """``counts`` keyed by (period, type, region, source)."""
    rows = tuple(
        GrowthRow(period, kind or UNKNOWN, region or UNKNOWN, source or UNKNOWN, n)
        for (period, kind, region, source), n in sorted(
            counts.items(), key=lambda item: tuple(v or "" for v in item[0])
        )
        if n
    )
    return CustomerGrowth(rows=rows, total=sum(r.count for r in rows))


# --- sales funnel ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunnelStage:
    stage: str
    reached: int
    amounts: tuple[Amount, ...]
    conversion_from_previous: float | None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    period: str
    created: int
    won: int
    lost: int
    win_rate: float | None


@dataclass(frozen=True, slots=True)
class SalesFunnel:
    stages: tuple[FunnelStage, ...]
    opportunities: int
    won: int
    lost: int
    open: int
    win_rate: float | None
    average_cycle_days: float | None
    trend: tuple[TrendPoint, ...]

    def csv(self) -> str:
        lines = to_csv(
            ["stage", "reached", "amounts", "conversion_from_previous"],
            (
                (s.stage, s.reached, _amounts_text(s.amounts), s.conversion_from_previous)
                for s in self.stages
            ),
        )
        summary = to_csv(
            ["opportunities", "won", "lost", "open", "win_rate", "average_cycle_days"],
            [
                (
                    self.opportunities,
                    self.won,
                    self.lost,
                    self.open,
                    self.win_rate,
                    self.average_cycle_days,
                )
            ],
        )
        trend = to_csv(
            ["period", "created", "won", "lost", "win_rate"],
            ((t.period, t.created, t.won, t.lost, t.win_rate) for t in self.trend),
        )
        return f"{lines}\n{summary}\n{trend}"


def sales_funnel(
    furthest_counts: Mapping[int, int],
    furthest_amounts: Mapping[tuple[int, str], int],
    outcome_counts: Mapping[str, int],
    won_cycles: Sequence[timedelta],
    trend_counts: Mapping[tuple[str, str], int],
) -> SalesFunnel:
    """The funnel from per-opportunity "furthest stage reached" groups.

    ``furthest_counts``: opportunities per furthest stage index; ``furthest_amounts``: their
    amounts per (index, currency); ``outcome_counts``: per WON/LOST/OPEN; ``won_cycles``: the
    created→won durations; ``trend_counts``: per (period of creation, outcome).
    """
    stages: list[FunnelStage] = []
    previous: int | None = None
    for index, stage in enumerate(FUNNEL_STAGES):
        reached = sum(n for i, n in furthest_counts.items() if i >= index)
        amounts: dict[str, int] = defaultdict(int)
        for (i, currency), amount in furthest_amounts.items():
            if i >= index:
                amounts[currency] += amount
        conversion = rate(reached, previous) if previous is not None else None
        stages.append(FunnelStage(stage, reached, _amounts(amounts), conversion))
        previous = reached
    won, lost = outcome_counts.get("WON", 0), outcome_counts.get("LOST", 0)
    total = sum(outcome_counts.values())
    cycle_days = (
        round(sum(c.total_seconds() for c in won_cycles) / len(won_cycles) / 86400, 2)
        if won_cycles
        else None
    )
    periods = sorted({period for period, _ in trend_counts})
    trend = []
    for period in periods:
        p_won = trend_counts.get((period, "WON"), 0)
        p_lost = trend_counts.get((period, "LOST"), 0)
        created = sum(n for (p, _), n in trend_counts.items() if p == period)
        trend.append(TrendPoint(period, created, p_won, p_lost, rate(p_won, p_won + p_lost)))
    return SalesFunnel(
        stages=tuple(stages),
        opportunities=total,
        won=won,
        lost=lost,
        open=total - won - lost,
        win_rate=rate(won, won + lost),
        average_cycle_days=cycle_days,
        trend=tuple(trend),
    )


# --- quote approvals -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuoteApprovalPeriod:
    period: str
    submitted: int
    approved: int
    rejected: int


@dataclass(frozen=True, slots=True)
class QuoteApprovals:
    submitted: int
    approved_automatically: int
    approved_manually: int
    rejected: int
    pending: int
    approval_rate: float | None
    automatic_share: float | None
    average_decision_hours: float | None
    accepted: int
    declined: int
    trend: tuple[QuoteApprovalPeriod, ...]

    def csv(self) -> str:
        summary = to_csv(
            [
                "submitted",
                "approved_automatically",
                "approved_manually",
                "rejected",
                "pending",
                "approval_rate",
                "automatic_share",
                "average_decision_hours",
                "accepted",
                "declined",
            ],
            [
                (
                    self.submitted,
                    self.approved_automatically,
                    self.approved_manually,
                    self.rejected,
                    self.pending,
                    self.approval_rate,
                    self.automatic_share,
                    self.average_decision_hours,
                    self.accepted,
                    self.declined,
                )
            ],
        )
        trend = to_csv(
            ["period", "submitted", "approved", "rejected"],
            ((t.period, t.submitted, t.approved, t.rejected) for t in self.trend),
        )
        return f"{summary}\n{trend}"


def quote_approvals(
    decisions: Mapping[str, int],
    responses: Mapping[str, int],
    manual_decision_times: Sequence[timedelta],
    trend_counts: Mapping[tuple[str, str], int],
) -> QuoteApprovals:
    """``decisions`` per AUTO/MANUAL/REJECTED/PENDING; ``responses`` per ACCEPTED/DECLINED/...;
    ``trend_counts`` per (period submitted, decision)."""
    auto, manual = decisions.get("AUTO", 0), decisions.get("MANUAL", 0)
    rejected, pending = decisions.get("REJECTED", 0), decisions.get("PENDING", 0)
    decided = auto + manual + rejected
    hours = (
        round(
            sum(t.total_seconds() for t in manual_decision_times)
            / len(manual_decision_times)
            / 3600,
            2,
        )
        if manual_decision_times
        else None
    )
    trend = tuple(
        QuoteApprovalPeriod(
            period,
            sum(n for (p, _), n in trend_counts.items() if p == period),
            trend_counts.get((period, "AUTO"), 0) + trend_counts.get((period, "MANUAL"), 0),
            trend_counts.get((period, "REJECTED"), 0),
        )
        for period in sorted({p for p, _ in trend_counts})
    )
    return QuoteApprovals(
        submitted=decided + pending,
        approved_automatically=auto,
        approved_manually=manual,
        rejected=rejected,
        pending=pending,
        approval_rate=rate(auto + manual, decided),
        automatic_share=rate(auto, auto + manual),
        average_decision_hours=hours,
        accepted=responses.get("ACCEPTED", 0),
        declined=responses.get("DECLINED", 0),
        trend=trend,
    )


# --- satisfaction ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DimensionScore:
    period: str | None
    dimension: str
    responses: int
    average_score: float | None
    csat: float | None


@dataclass(frozen=True, slots=True)
class Satisfaction:
    dimensions: tuple[DimensionScore, ...]
    trend: tuple[DimensionScore, ...]
    surveys_answered: int

    def csv(self) -> str:
        rows = [*self.dimensions, *self.trend]
        return to_csv(
            ["period", "dimension", "responses", "average_score", "csat"],
            ((d.period or "ALL", d.dimension, d.responses, d.average_score, d.csat) for d in rows),
        )


def _dimension_rows(
    keys: Iterable[tuple[str | None, str]],
    responses: Mapping[tuple[str | None, str], int],
    score_sums: Mapping[tuple[str | None, str], int],
    satisfied: Mapping[tuple[str | None, str], int],
) -> tuple[DimensionScore, ...]:
    rows = []
    for key in sorted(keys, key=lambda k: (k[0] or "", k[1])):
        n = responses.get(key, 0)
        average = round(score_sums.get(key, 0) / n, 2) if n else None
        rows.append(DimensionScore(key[0], key[1], n, average, rate(satisfied.get(key, 0), n)))
    return tuple(rows)


def satisfaction(
    responses: Mapping[tuple[str, str], int],
    score_sums: Mapping[tuple[str, str], int],
    satisfied: Mapping[tuple[str, str], int],
    surveys_answered: int,
) -> Satisfaction:
    """Inputs keyed by (period answered, dimension): answers, sum of scores, answers ≥ 4."""

    def overall(per_period: Mapping[tuple[str, str], int]) -> dict[tuple[str | None, str], int]:
        totals: dict[tuple[str | None, str], int] = defaultdict(int)
        for (_, dimension), n in per_period.items():
            totals[(None, dimension)] += n
        return totals

    dims = {(None, d) for _, d in responses}
    by_period: set[tuple[str | None, str]] = set(responses)
    return Satisfaction(
        dimensions=_dimension_rows(
            dims, overall(responses), overall(score_sums), overall(satisfied)
        ),
        trend=_dimension_rows(
            by_period,
            dict(responses.items()),
            dict(score_sums.items()),
            dict(satisfied.items()),
        ),
        surveys_answered=surveys_answered,
    )


# --- SLA compliance --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaRow:
    key: str
    resolved: int
    within_sla: int
    compliance: float | None


@dataclass(frozen=True, slots=True)
class SlaCompliance:
    opened: int
    open: int
    resolved: int
    within_sla: int
    compliance: float | None
    breached: int
    by_priority: tuple[SlaRow, ...]
    trend: tuple[SlaRow, ...]

    def csv(self) -> str:
        summary = to_csv(
            ["opened", "open", "resolved", "within_sla", "compliance", "breached"],
            [
                (
                    self.opened,
                    self.open,
                    self.resolved,
                    self.within_sla,
                    self.compliance,
                    self.breached,
                )
            ],
        )
        detail = to_csv(
            ["group", "key", "resolved", "within_sla", "compliance"],
            [
                *(
                    ("priority", r.key, r.resolved, r.within_sla, r.compliance)
                    for r in self.by_priority
                ),
                *(("period", r.key, r.resolved, r.within_sla, r.compliance) for r in self.trend),
            ],
        )
        return f"{summary}\n{detail}"


def sla_compliance(
    opened: int,
    still_open: int,
    breached: int,
    resolved_by_priority: Mapping[tuple[str, bool], int],
    resolved_by_period: Mapping[tuple[str, bool], int],
) -> SlaCompliance:
    """Resolved tickets keyed by (priority or period resolved, within SLA)."""

    def rows(counts: Mapping[tuple[str, bool], int]) -> tuple[SlaRow, ...]:
        out = []
        for key in sorted({k for k, _ in counts}):
            within = counts.get((key, True), 0)
            total = within + counts.get((key, False), 0)
            out.append(SlaRow(key, total, within, rate(within, total)))
        return tuple(out)

    resolved = sum(resolved_by_priority.values())
    within = sum(n for (_, ok), n in resolved_by_priority.items() if ok)
    return SlaCompliance(
        opened=opened,
        open=still_open,
        resolved=resolved,
        within_sla=within,
        compliance=rate(within, resolved),
        breached=breached,
        by_priority=rows(resolved_by_priority),
        trend=rows(resolved_by_period),
    )


# --- leaderboard -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    rank: int
    key: str
    won: int
    won_amounts: tuple[Amount, ...]
    open_opportunities: int
    interactions: int
    new_customers: int


@dataclass(frozen=True, slots=True)
class Leaderboard:
    owners: tuple[LeaderboardRow, ...]
    teams: tuple[LeaderboardRow, ...]

    def csv(self) -> str:
        return to_csv(
            [
                "board",
                "rank",
                "key",
                "won",
                "won_amounts",
                "open_opportunities",
                "interactions",
                "new_customers",
            ],
            [
                (
                    board,
                    r.rank,
                    r.key,
                    r.won,
                    _amounts_text(r.won_amounts),
                    r.open_opportunities,
                    r.interactions,
                    r.new_customers,
                )
                for board, rows in (("owner", self.owners), ("team", self.teams))
                for r in rows
            ],
        )


@dataclass(frozen=True, slots=True)
class PerformerFigures:
    """Grouped figures of one board (owner or team), each keyed by the owner/team."""

    won: Mapping[str, int]
    won_amounts: Mapping[tuple[str, str], int]
    open_opportunities: Mapping[str, int]
    interactions: Mapping[str, int]
    new_customers: Mapping[str, int]


def ranking(figures: PerformerFigures) -> tuple[LeaderboardRow, ...]:
    """Ranked by deals won, then interactions, then new customers (ties share no rank)."""
    keys = (
        set(figures.won)
        | {k for k, _ in figures.won_amounts}
        | set(figures.open_opportunities)
        | set(figures.interactions)
        | set(figures.new_customers)
    )
    keys.discard("")
    ordered = sorted(
        keys,
        key=lambda k: (
            -figures.won.get(k, 0),
            -figures.interactions.get(k, 0),
            -figures.new_customers.get(k, 0),
            k,
        ),
    )
    return tuple(
        LeaderboardRow(
            rank=position,
            key=key,
            won=figures.won.get(key, 0),
            won_amounts=_amounts({c: v for (k, c), v in figures.won_amounts.items() if k == key}),
            open_opportunities=figures.open_opportunities.get(key, 0),
            interactions=figures.interactions.get(key, 0),
            new_customers=figures.new_customers.get(key, 0),
        )
        for position, key in enumerate(ordered, start=1)
    )
