"""The potential-v2 backtest (`crm_insights.adapters.backtest` loads the histories): score each
customer with what was known at a cut, compare with what happened after it, and the measures
for that — Spearman rank correlation, AUC, top-share lift. Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from crm_insights.domain.potential import (
    FORECAST_HORIZON,
    MODEL_VERSION,
    CustomerHistory,
    first_seen,
    score_potential,
)


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson over tie-averaged ranks); None if either side is
    constant or there are fewer than three pairs."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return float(cov / (vx * vy) ** 0.5)


def auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """The probability that a random positive outscores a random negative (ties count half);
    None without both classes."""
    pos = [s for s, p in zip(scores, positives, strict=True) if p]
    neg = [s for s, p in zip(scores, positives, strict=True) if not p]
    if not pos or not neg:
        return None
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def top_share_lift(
    scores: Sequence[float], outcomes: Sequence[float], share: float
) -> float | None:
    """Share of the total outcome captured by the top ``share`` of customers by score, divided
    by ``share`` (1.0 = no better than chance); None when the outcome sums to 0."""
    total = sum(outcomes)
    if total <= 0 or not scores:
        return None
    n = max(1, round(len(scores) * share))
    top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:n]
    return (sum(outcomes[i] for i in top) / total) / (n / len(scores))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a customer after its cut."""

    revenue_won: int
    deals_won: int
    opportunities: int  # created or won after the cut
    churned: bool
    forecast_revenue: int  # won within the forecast's 90 days after the cut


def outcome(history: CustomerHistory, cut: datetime, end: datetime) -> Outcome:
    won = [
        d for d in history.deals if d.outcome == "WON" and d.closed_at and cut < d.closed_at <= end
    ]
    created = [d for d in history.deals if cut < d.created_at <= end]
    forecast_end = cut + FORECAST_HORIZON
    return Outcome(
        revenue_won=sum(d.amount_minor for d in won),
        deals_won=len(won),
        opportunities=len({id(d) for d in (*won, *created)}),
        churned=any(cut < t <= end for t in history.churned_at),
        forecast_revenue=sum(
            d.amount_minor for d in won if d.closed_at is not None and d.closed_at <= forecast_end
        ),
    )


@dataclass(frozen=True, slots=True)
class BacktestResult:
    customers: int  # scored at their cut
    live_customers: int
    won_a_deal: int
    new_business: int  # a new opportunity or a win
    churned: int
    purchase_power_spearman: float | None
    purchase_power_auc: float | None
    purchase_power_lift: float | None
    growth_spearman: float | None
    growth_auc: float | None
    growth_lift: float | None
    loyalty_auc: float | None
    forecast_minor: int
    won_within_90_days_minor: int
    spreads: dict[str, tuple[int, int, int]]  # dimension → (min, median, max)


def backtest(
    histories: Sequence[CustomerHistory],
    cut_of: Callable[[CustomerHistory], datetime | None],
    end_of: Callable[[datetime], datetime],
) -> BacktestResult:
    """Score every customer at its cut (``cut_of``: one moment for all, or per customer) with
    what was known then, and compare with what happened in (cut, ``end_of(cut)``]. Customers
    with no fact at their cut are not known yet and left out."""
    rows: list[tuple[dict[str, int], int, Outcome]] = []
    for history in histories:
        cut = cut_of(history)
        if cut is None or first_seen(history, cut) is None:
            continue
        scored = score_potential(history, cut)
        if scored is None:
            continue
        forecast = sum(f.amount_minor for f in scored.forecast)
        rows.append((scored.scores(), forecast, outcome(history, cut, end_of(cut))))
    pp = [r[0]["PURCHASE_POWER"] for r in rows]
    growth = [r[0]["GROWTH"] for r in rows]
    loyalty = [r[0]["LOYALTY"] for r in rows]
    revenue = [r[2].revenue_won for r in rows]
    opportunities = [r[2].opportunities for r in rows]
    won_any = [r[2].deals_won > 0 for r in rows]
    new_any = [r[2].opportunities > 0 for r in rows]
    stayed = [not r[2].churned for r in rows]
    return BacktestResult(
        customers=len(rows),
        live_customers=len(histories),
        won_a_deal=sum(won_any),
        new_business=sum(new_any),
        churned=len(rows) - sum(stayed),
        purchase_power_spearman=spearman(pp, revenue),
        purchase_power_auc=auc(pp, won_any),
        purchase_power_lift=top_share_lift(pp, revenue, 0.2),
        growth_spearman=spearman(growth, opportunities),
        growth_auc=auc(growth, new_any),
        growth_lift=top_share_lift(growth, opportunities, 0.2),
        loyalty_auc=auc(loyalty, stayed),
        forecast_minor=sum(r[1] for r in rows),
        won_within_90_days_minor=sum(r[2].forecast_revenue for r in rows),
        spreads={
            name: _spread(values)
            for name, values in (("purchase power", pp), ("growth", growth), ("loyalty", loyalty))
        },
    )


def _spread(values: Sequence[int]) -> tuple[int, int, int]:
    if not values:
        return (0, 0, 0)
    ordered = sorted(values)
    return (ordered[0], ordered[len(ordered) // 2], ordered[-1])


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render(result: BacktestResult, title: str) -> list[str]:
    """The result as Markdown lines (the tool prints them; docs/insights-potential.md)."""
    r = result
    ratio = (
        f" (forecast / actual {r.forecast_minor / r.won_within_90_days_minor:.2f})"
        if r.won_within_90_days_minor
        else ""
    )
    return [
        f"{title} — model {MODEL_VERSION}",
        f"customers known at their cut: {r.customers} of {r.live_customers} live customers; "
        f"afterwards {r.won_a_deal} won a deal, {r.new_business} had a new opportunity or win, "
        f"{r.churned} churned",
        "",
        "| dimension | outcome after the cut | Spearman | AUC | top-20% lift |",
        "|---|---|---|---|---|",
        f"| purchase power | revenue won / won a deal | {_fmt(r.purchase_power_spearman)} | "
        f"{_fmt(r.purchase_power_auc)} | {_fmt(r.purchase_power_lift)} |",
        f"| growth | opportunities created or won / any | {_fmt(r.growth_spearman)} | "
        f"{_fmt(r.growth_auc)} | {_fmt(r.growth_lift)} |",
        f"| loyalty | did not churn | n/a | {_fmt(r.loyalty_auc)} | n/a |",
        "",
        f"forecast at the cut (open pipeline × win probability): {r.forecast_minor / 100:,.2f}; "
        f"won within 90 days: {r.won_within_90_days_minor / 100:,.2f}{ratio}",
        "score spread at the cut (min / median / max): "
        + "; ".join(f"{name} {a} / {b} / {c}" for name, (a, b, c) in r.spreads.items()),
    ]
