"""Customer potential, model ``potential-v2``: purchase power, growth potential and loyalty
(0-100 each), every one explained by its drivers, plus a 90-day revenue forecast. Pure: the
input is the customer's history as the events told it (`CustomerHistory`), and `score_potential`
looks only at what was known at ``now`` — so the live scoring pass (``now`` = the present) and
the backtest (``now`` = a past cut, `crm_insights.tools.backtest`) run the same code.

Each dimension is a weighted sum: ``score = Σ weight × signal`` with every signal in [0, 1] and
the weights of a dimension summing to 100. A driver reports its input value, its weight, its
contribution (weight × signal) and a sentence. Absence of evidence earns nothing: a customer
nothing is known about scores 0 everywhere.

Amounts are compared on a log scale between ``AMOUNT_FLOOR`` (10,000.00, signal 0) and
``AMOUNT_FULL`` (10,000,000.00, signal 1), in minor units and whatever the currency (the
contracts carry amounts per currency; a tenant trading in several currencies mixes them here —
the forecast keeps them apart).

Purchase power — how much this customer can buy:

=================  ======  =======================================================================
driver             weight  signal
=================  ======  =======================================================================
won_revenue          25    revenue of deals won so far (log scale)
largest_deal         15    largest opportunity amount, open or won (log scale)
quote_size           10    largest quote total (log scale)
budget               20    the profile's budget, upper bound (log scale)
company_size         10    the larger of: employees on a log scale (10 → 0, 10,000 → 1) and the
                           revenue band (UNDER_1M 0.1, 1M-10M 0.3, 10M-100M 0.6, 100M-1B 0.85,
                           OVER_1B 1.0)
value_tier           10    the customer service's value tier: A 1.0, B 0.6, C 0.2, unknown 0
open_pipeline        10    total of open opportunities (log scale)
=================  ======  =======================================================================

Industry is carried (``customer.created`` / ``customer.updated`` ``purchase_profile``) but not
scored: a fixed ranking of industries would be a guess, and learning one from the tenant's
deals is left to a later version.

Growth potential — how much more it is likely to buy:

=================  ======  =======================================================================
weighted_pipeline    25    Σ open amount × win probability (log scale)
pipeline_trend       20    opportunities created in the last 90 days against the 90 before:
                           recent / (recent + earlier); 0 without recent ones
revenue_trend        15    revenue won in the last 180 days against the 180 before, same ratio
engagement_trend     20    interactions in the last 30 days against the customer's own 30-day
                           baseline (days 30-120): recent / (recent + baseline); 0 without recent
stage_progress       10    furthest stage among open opportunities (NEGOTIATION = 1)
value_tier           10    as in purchase power
=================  ======  =======================================================================

Loyalty — how firmly the customer stays:

=================  ======  =======================================================================
tenure               20    days since first seen (created, or its earliest fact) / 730
repeat_deals         20    deals won / 3
regularity           20    of the last six 30-day windows, the share with an interaction
satisfaction         20    average survey score over 365 days, (avg - 1) / 4; no answers 0
no_complaints        10    1 - complaint tickets in 365 days / 3, only for customers with a
                           relationship (an interaction, opportunity or ticket); else 0
churn_signals        10    1 - churn risk / 100 (health-v1), halved if it ever churned before,
                           0 if churned now; only with a relationship, else 0
=================  ======  =======================================================================

Forecast: expected revenue in the next 90 days = Σ over open opportunities expected to close
within 90 days (the expected close date as set at creation; deals without one count) of amount
× win probability (the one the opportunity carries, else the stage's default), per currency.
It is the pipeline's expectation, not a model of timing: a deal whose date slips past still
counts. The backtest measures how far off this is (docs/insights-potential.md).

A merged customer is not scored (its facts belong to the kept one); a deleted one neither (until
restored).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from crm_insights.domain.reports import FUNNEL_STAGES, stage_index

MODEL_VERSION = "potential-v2"

AMOUNT_FLOOR = 1_000_000  # 10,000.00 in minor units: signal 0 at or below
AMOUNT_FULL = 1_000_000_000  # 10,000,000.00: signal 1 at or above
TIER_SIGNAL = {"A": 1.0, "B": 0.6, "C": 0.2}
REVENUE_BAND_SIGNAL = {
    "UNDER_1M": 0.1,
    "FROM_1M_TO_10M": 0.3,
    "FROM_10M_TO_100M": 0.6,
    "FROM_100M_TO_1B": 0.85,
    "OVER_1B": 1.0,
}
EMPLOYEES_FLOOR = 10  # signal 0 at or below
EMPLOYEES_FULL = 10_000  # signal 1 at or above
# Win probability (percent) per stage when the opportunity carries none (as the quoting service).
STAGE_PROBABILITY = {
    "INITIAL_CONTACT": 10,
    "NEEDS_ANALYSIS": 20,
    "SOLUTION": 40,
    "QUOTE": 60,
    "NEGOTIATION": 80,
}
COMPLAINT = "COMPLAINT"
CHURNED = "CHURNED"

TREND_WINDOW = timedelta(days=90)
REVENUE_WINDOW = timedelta(days=180)
RECENT_WINDOW = timedelta(days=30)
BASELINE_WINDOW = timedelta(days=90)
REGULARITY_WINDOWS = 6  # × 30 days
YEAR = timedelta(days=365)
TENURE_FULL = timedelta(days=730)
REPEAT_FULL = 3
COMPLAINTS_FULL = 3
FORECAST_HORIZON = timedelta(days=90)
# A score that moves by at least this many points is announced (`PotentialChanged`).
MEANINGFUL_CHANGE = 5


class Dimension(StrEnum):
    PURCHASE_POWER = "PURCHASE_POWER"
    GROWTH = "GROWTH"
    LOYALTY = "LOYALTY"


WEIGHTS: dict[Dimension, dict[str, int]] = {
    Dimension.PURCHASE_POWER: {
        "won_revenue": 25,
        "largest_deal": 15,
        "quote_size": 10,
        "budget": 20,
        "company_size": 10,
        "value_tier": 10,
        "open_pipeline": 10,
    },
    Dimension.GROWTH: {
        "weighted_pipeline": 25,
        "pipeline_trend": 20,
        "revenue_trend": 15,
        "engagement_trend": 20,
        "stage_progress": 10,
        "value_tier": 10,
    },
    Dimension.LOYALTY: {
        "tenure": 20,
        "repeat_deals": 20,
        "regularity": 20,
        "satisfaction": 20,
        "no_complaints": 10,
        "churn_signals": 10,
    },
}


@dataclass(frozen=True, slots=True)
class Deal:
    """An opportunity: created, and closed (WON/LOST) or still open at its latest stage."""

    created_at: datetime
    amount_minor: int
    currency: str = "CNY"
    stage: str | None = None
    probability: int | None = None
    outcome: str | None = None  # WON | LOST | None (open)
    closed_at: datetime | None = None
    expected_close: date | None = None  # as set at creation

    def won_by(self, moment: datetime) -> bool:
        return self.outcome == "WON" and self.closed_at is not None and self.closed_at <= moment

    def open_at(self, moment: datetime) -> bool:
        closed = self.closed_at is not None and self.closed_at <= moment
        return self.created_at <= moment and not closed

    def win_probability(self, moment: datetime) -> float:
        """Known at ``moment``: the stored stage and probability are the latest ones, so a deal
        that closed after ``moment`` (a backtest) is judged by the first stage's default instead
        of what happened to it later."""
        if self.closed_at is not None and self.closed_at > moment:
            return STAGE_PROBABILITY["INITIAL_CONTACT"] / 100
        if self.probability is not None:
            return max(0, min(100, self.probability)) / 100
        return STAGE_PROBABILITY.get(self.stage or "", STAGE_PROBABILITY["INITIAL_CONTACT"]) / 100

    def stage_at(self, moment: datetime) -> str:
        if self.closed_at is not None and self.closed_at > moment:
            return FUNNEL_STAGES[0]
        return self.stage or FUNNEL_STAGES[0]


@dataclass(frozen=True, slots=True)
class Survey:
    responded_at: datetime
    score_sum: int
    score_count: int


@dataclass(frozen=True, slots=True)
class Ticket:
    opened_at: datetime
    category: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """Everything the events told about one customer, with times."""

    created_at: datetime | None = None
    value_tier: str | None = None
    # The profile's purchase facts (`customer.created` / `customer.updated` purchase_profile).
    industry: str | None = None
    employees: int | None = None
    revenue_band: str | None = None
    budget_max_minor: int | None = None
    # When the tier and the profile facts were last set: a score at an earlier moment (the
    # backtest) does not know them. None = known all along.
    tier_known_at: datetime | None = None
    profile_known_at: datetime | None = None
    status: str | None = None
    deleted: bool = False
    merged_into: str | None = None
    deals: tuple[Deal, ...] = ()
    quotes: tuple[tuple[datetime, int], ...] = ()  # (created or submitted, total minor)
    interactions: tuple[datetime, ...] = ()
    surveys: tuple[Survey, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    churned_at: tuple[datetime, ...] = ()  # moves into CHURNED
    reactivated_at: tuple[datetime, ...] = ()  # moves out of CHURNED
    churn_risk: int | None = None  # health-v1's score now (live pass only)


@dataclass(frozen=True, slots=True)
class PotentialDriver:
    name: str
    value: float  # the input, in the unit the explanation names
    weight: int
    contribution: float  # weight × signal, 0..weight
    explanation: str


@dataclass(frozen=True, slots=True)
class DimensionScore:
    dimension: Dimension
    score: int
    drivers: tuple[PotentialDriver, ...]


@dataclass(frozen=True, slots=True)
class ForecastAmount:
    currency: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PotentialScore:
    purchase_power: DimensionScore
    growth: DimensionScore
    loyalty: DimensionScore
    forecast: tuple[ForecastAmount, ...] = field(default=())
    model_version: str = MODEL_VERSION

    def dimension(self, dimension: Dimension) -> DimensionScore:
        return {
            Dimension.PURCHASE_POWER: self.purchase_power,
            Dimension.GROWTH: self.growth,
            Dimension.LOYALTY: self.loyalty,
        }[dimension]

    def scores(self) -> dict[str, int]:
        return {d.value: self.dimension(d).score for d in Dimension}


def amount_signal(amount_minor: float) -> float:
    """0 at or below `AMOUNT_FLOOR`, 1 at or above `AMOUNT_FULL`, log scale between."""
    if amount_minor <= AMOUNT_FLOOR:
        return 0.0
    span = math.log10(AMOUNT_FULL) - math.log10(AMOUNT_FLOOR)
    return min(1.0, (math.log10(amount_minor) - math.log10(AMOUNT_FLOOR)) / span)


def share(recent: float, earlier: float) -> float:
    """recent / (recent + earlier): 1 when all is recent, 0.5 when flat, 0 without recent."""
    return recent / (recent + earlier) if recent > 0 else 0.0


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _money(amount_minor: float) -> str:
    return f"{amount_minor / 100:,.2f}"


def _between(times: Iterable[datetime], start: datetime, end: datetime) -> int:
    return sum(1 for t in times if start < t <= end)


def _driver(
    dimension: Dimension, name: str, value: float, signal: float, explanation: str
) -> PotentialDriver:
    weight = WEIGHTS[dimension][name]
    contribution = round(weight * max(0.0, min(1.0, signal)), 1)
    return PotentialDriver(name, round(value, 2), weight, contribution, explanation)


def _dimension(dimension: Dimension, drivers: list[PotentialDriver]) -> DimensionScore:
    total = sum(d.contribution for d in drivers)
    return DimensionScore(dimension, max(0, min(100, round(total))), tuple(drivers))


def _tier(history: CustomerHistory) -> tuple[float, str]:
    tier = history.value_tier
    if tier in TIER_SIGNAL:
        return TIER_SIGNAL[tier], f"value tier {tier}"
    return 0.0, "value tier unknown"


def size_signal(employees: int | None, revenue_band: str | None) -> float:
    by_people = 0.0
    if employees is not None and employees > EMPLOYEES_FLOOR:
        span = math.log10(EMPLOYEES_FULL) - math.log10(EMPLOYEES_FLOOR)
        by_people = min(1.0, (math.log10(employees) - math.log10(EMPLOYEES_FLOOR)) / span)
    return max(by_people, REVENUE_BAND_SIGNAL.get(revenue_band or "", 0.0))


def _size_text(h: CustomerHistory) -> str:
    parts = [
        *([f"{h.employees} employees"] if h.employees is not None else []),
        *([f"revenue band {h.revenue_band}"] if h.revenue_band else []),
    ]
    return ", ".join(parts) if parts else "company size unknown"


def _purchase_power(h: CustomerHistory, now: datetime) -> DimensionScore:
    p = Dimension.PURCHASE_POWER
    won = [d for d in h.deals if d.won_by(now)]
    revenue = sum(d.amount_minor for d in won)
    known = [d for d in h.deals if d.created_at <= now]
    largest = max((d.amount_minor for d in known), default=0)
    quote = max((total for at, total in h.quotes if at <= now), default=0)
    pipeline = sum(d.amount_minor for d in h.deals if d.open_at(now))
    tier_signal, tier_text = _tier(h)
    return _dimension(
        p,
        [
            _driver(
                p,
                "won_revenue",
                revenue,
                amount_signal(revenue),
                f"{_count(len(won), 'deal')} won so far, {_money(revenue)} in total",
            ),
            _driver(
                p,
                "largest_deal",
                largest,
                amount_signal(largest),
                f"largest opportunity {_money(largest)}" if known else "no opportunities yet",
            ),
            _driver(
                p,
                "quote_size",
                quote,
                amount_signal(quote),
                f"largest quote {_money(quote)}" if quote else "no quotes yet",
            ),
            _driver(
                p,
                "budget",
                h.budget_max_minor or 0,
                amount_signal(h.budget_max_minor or 0),
                f"budget up to {_money(h.budget_max_minor)}"
                if h.budget_max_minor
                else "budget unknown",
            ),
            _driver(
                p,
                "company_size",
                h.employees or 0,
                size_signal(h.employees, h.revenue_band),
                _size_text(h),
            ),
            _driver(p, "value_tier", tier_signal, tier_signal, tier_text),
            _driver(
                p,
                "open_pipeline",
                pipeline,
                amount_signal(pipeline),
                f"open opportunities worth {_money(pipeline)}",
            ),
        ],
    )


def _growth(h: CustomerHistory, now: datetime) -> DimensionScore:
    g = Dimension.GROWTH
    open_deals = [d for d in h.deals if d.open_at(now)]
    weighted = sum(d.amount_minor * d.win_probability(now) for d in open_deals)
    created = [d.created_at for d in h.deals]
    recent_opps = _between(created, now - TREND_WINDOW, now)
    earlier_opps = _between(created, now - 2 * TREND_WINDOW, now - TREND_WINDOW)
    won = [d for d in h.deals if d.won_by(now)]

    def revenue(start: datetime, end: datetime) -> int:
        return sum(d.amount_minor for d in won if d.closed_at and start < d.closed_at <= end)

    recent_rev = revenue(now - REVENUE_WINDOW, now)
    earlier_rev = revenue(now - 2 * REVENUE_WINDOW, now - REVENUE_WINDOW)
    recent_int = _between(h.interactions, now - RECENT_WINDOW, now)
    baseline = (
        _between(h.interactions, now - RECENT_WINDOW - BASELINE_WINDOW, now - RECENT_WINDOW)
        * RECENT_WINDOW
        / BASELINE_WINDOW
    )
    furthest = max((stage_index(d.stage_at(now)) for d in open_deals), default=-1)
    negotiation = FUNNEL_STAGES.index("NEGOTIATION")
    tier_signal, tier_text = _tier(h)
    return _dimension(
        g,
        [
            _driver(
                g,
                "weighted_pipeline",
                weighted,
                amount_signal(weighted),
                f"{_count(len(open_deals), 'open opportunity', 'open opportunities')}, "
                f"{_money(weighted)} weighted by their "
                "win probability",
            ),
            _driver(
                g,
                "pipeline_trend",
                recent_opps,
                share(recent_opps, earlier_opps),
                f"{_count(recent_opps, 'opportunity', 'opportunities')} created in the last 90 "
                f"days, {earlier_opps} in "
                "the 90 before",
            ),
            _driver(
                g,
                "revenue_trend",
                recent_rev,
                share(recent_rev, earlier_rev),
                f"{_money(recent_rev)} won in the last 180 days, {_money(earlier_rev)} in the "
                "180 before",
            ),
            _driver(
                g,
                "engagement_trend",
                recent_int,
                share(recent_int, baseline),
                f"{_count(recent_int, 'interaction')} in the last 30 days against a baseline of "
                f"{baseline:.1f} per 30 days",
            ),
            _driver(
                g,
                "stage_progress",
                furthest + 1,
                (furthest + 1) / (negotiation + 1) if furthest >= 0 else 0.0,
                f"furthest open stage {FUNNEL_STAGES[furthest]}"
                if furthest >= 0
                else "no open opportunity",
            ),
            _driver(g, "value_tier", tier_signal, tier_signal, tier_text),
        ],
    )


def first_seen(h: CustomerHistory, now: datetime) -> datetime | None:
    """When the customer was first known: created, or its earliest fact if that is earlier
    (imported customers bring older interactions)."""
    moments = [
        *([h.created_at] if h.created_at else []),
        *h.interactions,
        *(d.created_at for d in h.deals),
        *(t.opened_at for t in h.tickets),
    ]
    known = [m for m in moments if m <= now]
    return min(known) if known else None


def _loyalty(h: CustomerHistory, now: datetime) -> DimensionScore:
    lo = Dimension.LOYALTY
    since = first_seen(h, now)
    tenure_days = (now - since).days if since else 0
    won = sum(1 for d in h.deals if d.won_by(now))
    windows = sum(
        1
        for k in range(REGULARITY_WINDOWS)
        if _between(h.interactions, now - (k + 1) * RECENT_WINDOW, now - k * RECENT_WINDOW)
    )
    answers = [s for s in h.surveys if now - YEAR < s.responded_at <= now]
    count = sum(s.score_count for s in answers)
    average = sum(s.score_sum for s in answers) / count if count else None
    complaints = sum(
        1 for t in h.tickets if t.category == COMPLAINT and now - YEAR < t.opened_at <= now
    )
    related = (
        any(t <= now for t in h.interactions)
        or any(d.created_at <= now for d in h.deals)
        or any(t.opened_at <= now for t in h.tickets)
    )
    churned_before = any(t <= now for t in h.churned_at)
    last_churn = max((t for t in h.churned_at if t <= now), default=None)
    last_back = max((t for t in h.reactivated_at if t <= now), default=None)
    churned_now = last_churn is not None and (last_back is None or last_back < last_churn)
    risk = h.churn_risk or 0
    if not related:
        churn_signal, churn_text = 0.0, "no relationship yet"
    elif churned_now:
        churn_signal, churn_text = 0.0, "churned"
    else:
        churn_signal = (1 - risk / 100) * (0.5 if churned_before else 1.0)
        churn_text = f"churn risk {risk}" + (", churned once before" if churned_before else "")
    return _dimension(
        lo,
        [
            _driver(
                lo,
                "tenure",
                tenure_days,
                tenure_days / TENURE_FULL.days,
                f"customer for {_count(tenure_days, 'day')}",
            ),
            _driver(lo, "repeat_deals", won, won / REPEAT_FULL, f"{_count(won, 'deal')} won"),
            _driver(
                lo,
                "regularity",
                windows,
                windows / REGULARITY_WINDOWS,
                f"interactions in {windows} of the last 6 months (30-day windows)",
            ),
            _driver(
                lo,
                "satisfaction",
                average or 0.0,
                (average - 1) / 4 if average is not None else 0.0,
                f"average survey score {average:.2f} over 365 days"
                if average is not None
                else "no survey answers in 365 days",
            ),
            _driver(
                lo,
                "no_complaints",
                complaints,
                1 - complaints / COMPLAINTS_FULL if related else 0.0,
                f"{_count(complaints, 'complaint')} in 365 days"
                if related
                else "no relationship yet",
            ),
            _driver(lo, "churn_signals", risk, churn_signal, churn_text),
        ],
    )


def forecast(h: CustomerHistory, now: datetime) -> tuple[ForecastAmount, ...]:
    """Expected revenue of the open pipeline (amount × win probability) in the next 90 days,
    per currency: deals expected to close later are left out; deals without a date count."""
    horizon = (now + FORECAST_HORIZON).date()
    totals: dict[str, float] = {}
    for deal in h.deals:
        if deal.expected_close is not None and deal.expected_close > horizon:
            continue
        if deal.open_at(now):
            totals[deal.currency] = totals.get(deal.currency, 0.0) + (
                deal.amount_minor * deal.win_probability(now)
            )
    return tuple(ForecastAmount(c, round(v)) for c, v in sorted(totals.items()))


def scorable(h: CustomerHistory) -> bool:
    """Merged customers (their facts moved to the kept one) and deleted ones are not scored."""
    return h.merged_into is None and not h.deleted


def known_at(history: CustomerHistory, now: datetime) -> CustomerHistory:
    """The history without the tier and profile facts set after ``now`` (only their latest
    values are kept, so a later value hides the earlier one: unknown rather than wrong)."""
    if history.tier_known_at is not None and history.tier_known_at > now:
        history = replace(history, value_tier=None)
    if history.profile_known_at is not None and history.profile_known_at > now:
        history = replace(
            history, industry=None, employees=None, revenue_band=None, budget_max_minor=None
        )
    return history


def score_potential(history: CustomerHistory, now: datetime) -> PotentialScore | None:
    """The three scores as known at ``now`` (facts after ``now`` are ignored); ``None`` for a
    customer that is not scored (`scorable`)."""
    if not scorable(history):
        return None
    history = known_at(history, now)
    return PotentialScore(
        purchase_power=_purchase_power(history, now),
        growth=_growth(history, now),
        loyalty=_loyalty(history, now),
        forecast=forecast(history, now),
    )


def moved_meaningfully(
    previous: Mapping[str, int] | None, current: Mapping[str, int] | None
) -> bool:
    """Whether a new score is worth announcing: the first score with anything in it, a score
    going away, or a dimension moving by `MEANINGFUL_CHANGE` points or more."""
    if previous is None:
        return current is not None and any(current.values())
    if current is None:
        return True
    return any(abs(current.get(k, 0) - previous.get(k, 0)) >= MEANINGFUL_CHANGE for k in current)


def next_change_at(history: CustomerHistory, now: datetime) -> datetime | None:
    """The earliest future moment at which time alone moves a window boundary of this model
    (coarse: day-level tenure growth is ignored; the windows' edges are not)."""
    moments: list[datetime] = []
    for t in history.interactions:
        moments += [t + RECENT_WINDOW, t + RECENT_WINDOW + BASELINE_WINDOW]
        moments += [t + k * RECENT_WINDOW for k in range(1, REGULARITY_WINDOWS + 1)]
    for d in history.deals:
        moments += [d.created_at + TREND_WINDOW, d.created_at + 2 * TREND_WINDOW]
        if d.closed_at is not None:
            moments += [d.closed_at + REVENUE_WINDOW, d.closed_at + 2 * REVENUE_WINDOW]
    moments += [s.responded_at + YEAR for s in history.surveys]
    moments += [t.opened_at + YEAR for t in history.tickets]
    future = [m for m in moments if m > now]
    return min(future) if future else None
