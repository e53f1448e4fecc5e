"""Customer health, model ``health-v1``: a churn-risk score and a potential score, 0-100 each,
with the drivers that explain them. Pure: the inputs are a snapshot the service gathers.

Churn risk (the higher, the likelier the customer leaves) adds up five drivers:

====================  ======  =================================================================
driver                max     rule
====================  ======  =================================================================
interaction_drop      30      interactions in the last 30 days against the customer's own
                              baseline (days 30-120 ago, per 30 days); ``30 × (1 - recent /
                              baseline)``, only when the baseline has at least one per 30 days
overdue_followups     20      10 per open follow-up past its due time
open_urgent_tickets   20      10 per open ticket of priority URGENT
low_satisfaction      15      average survey score over the last 180 days: ≤ 2.0 → 15, < 3.0 → 8
stalled_opportunities 15      8 per open opportunity that has not moved for 30 days
====================  ======  =================================================================

Crossing ``CHURN_THRESHOLD`` upwards raises a warning, falling below it clears it; each
crossing is announced once.

Potential (the higher, the more promising) adds up four drivers:

==========  ===  ==================================================================================
budget      30   largest open opportunity amount (minor units): ≥ 50,000,000 → 30,
                 ≥ 10,000,000 → 20, ≥ 1,000,000 → 10, any → 5 (the profile's budget range is not
                 on the event streams, so the pipeline stands in for it)
stage       30   furthest stage among open opportunities: 6 per step (INITIAL_CONTACT 6 ...
                 NEGOTIATION 30)
engagement  20   4 per interaction in the last 90 days (max 16) + 2 per activity attended in
                 the last 180 days (max 4)
history     20   10 per opportunity won
==========  ===  ==================================================================================

Every time-based rule names the moment its answer next changes (`next_change_at`), so the
scheduled pass re-scores a customer exactly when time alone would move its score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crm_insights.domain.reports import stage_index

MODEL_VERSION = "health-v1"
CHURN_THRESHOLD = 50

RECENT_WINDOW = timedelta(days=30)
BASELINE_WINDOW = timedelta(days=90)  # the 90 days before the recent window
SURVEY_WINDOW = timedelta(days=180)
STALL_AFTER = timedelta(days=30)
ENGAGEMENT_WINDOW = timedelta(days=90)
ACTIVITY_WINDOW = timedelta(days=180)
# How far back the inputs must reach (the longest window above).
LOOKBACK = max(RECENT_WINDOW + BASELINE_WINDOW, SURVEY_WINDOW, ACTIVITY_WINDOW)


class Transition(StrEnum):
    RAISE = "RAISE"
    CLEAR = "CLEAR"


@dataclass(frozen=True, slots=True)
class OpenOpportunity:
    stage: str
    last_moved_at: datetime
    amount_minor: int


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    responded_at: datetime
    score_sum: int
    score_count: int


@dataclass(frozen=True, slots=True)
class HealthInputs:
    """What the model looks at for one customer, as of ``now``."""

    now: datetime
    interaction_times: tuple[datetime, ...] = ()
    open_followups_due: tuple[datetime, ...] = ()
    open_urgent_tickets: int = 0
    survey_answers: tuple[SurveyAnswer, ...] = ()
    open_opportunities: tuple[OpenOpportunity, ...] = ()
    won_opportunities: int = 0
    activities_attended: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class Driver:
    model: str  # "churn" | "potential"
    name: str
    points: int
    detail: str


@dataclass(frozen=True, slots=True)
class HealthScore:
    churn_risk: int
    potential: int
    drivers: tuple[Driver, ...]
    next_change_at: datetime | None
    model_version: str = MODEL_VERSION

    def active_drivers(self, model: str) -> list[str]:
        return [d.name for d in self.drivers if d.model == model and d.points > 0]


def _between(times: Iterable[datetime], start: datetime, end: datetime) -> int:
    return sum(1 for t in times if start < t <= end)


def _churn_drivers(i: HealthInputs) -> list[Driver]:
    now = i.now
    recent = _between(i.interaction_times, now - RECENT_WINDOW, now)
    earlier = _between(
        i.interaction_times, now - RECENT_WINDOW - BASELINE_WINDOW, now - RECENT_WINDOW
    )
    periods = BASELINE_WINDOW / RECENT_WINDOW
    baseline = earlier / periods
    drop_points = 0
    if baseline >= 1:
        drop_points = round(30 * max(0.0, 1 - recent / baseline))
    overdue = sum(1 for due in i.open_followups_due if due <= now)
    answers = [a for a in i.survey_answers if a.responded_at > now - SURVEY_WINDOW]
    count = sum(a.score_count for a in answers)
    average = sum(a.score_sum for a in answers) / count if count else None
    survey_points = 0 if average is None else 15 if average <= 2 else 8 if average < 3 else 0
    stalled = sum(1 for o in i.open_opportunities if o.last_moved_at <= now - STALL_AFTER)
    return [
        Driver(
            "churn",
            "interaction_drop",
            drop_points,
            f"{recent} interactions in the last 30 days against a baseline of "
            f"{baseline:.1f} per 30 days",
        ),
        Driver(
            "churn",
            "overdue_followups",
            min(20, 10 * overdue),
            f"{overdue} open follow-ups past due",
        ),
        Driver(
            "churn",
            "open_urgent_tickets",
            min(20, 10 * i.open_urgent_tickets),
            f"{i.open_urgent_tickets} open urgent tickets",
        ),
        Driver(
            "churn",
            "low_satisfaction",
            survey_points,
            "no survey answers in the last 180 days"
            if average is None
            else f"average survey score {average:.2f} over the last 180 days",
        ),
        Driver(
            "churn",
            "stalled_opportunities",
            min(15, 8 * stalled),
            f"{stalled} open opportunities without a move for 30 days",
        ),
    ]


def _budget_points(amount: int) -> int:
    if amount >= 50_000_000:
        return 30
    if amount >= 10_000_000:
        return 20
    if amount >= 1_000_000:
        return 10
    return 5 if amount > 0 else 0


def _potential_drivers(i: HealthInputs) -> list[Driver]:
    now = i.now
    largest = max((o.amount_minor for o in i.open_opportunities), default=0)
    furthest = max((stage_index(o.stage) for o in i.open_opportunities), default=-1)
    engaged = _between(i.interaction_times, now - ENGAGEMENT_WINDOW, now)
    attended = _between(i.activities_attended, now - ACTIVITY_WINDOW, now)
    furthest_name = (
        next(o.stage for o in i.open_opportunities if stage_index(o.stage) == furthest)
        if furthest >= 0
        else "none"
    )
    return [
        Driver(
            "potential",
            "budget",
            _budget_points(largest),
            f"largest open opportunity {largest} (minor units)",
        ),
        Driver(
            "potential",
            "stage",
            min(30, 6 * (furthest + 1)) if furthest >= 0 else 0,
            f"furthest open stage {furthest_name}",
        ),
        Driver(
            "potential",
            "engagement",
            min(16, 4 * engaged) + min(4, 2 * attended),
            f"{engaged} interactions in 90 days, {attended} activities attended in 180 days",
        ),
        Driver(
            "potential",
            "history",
            min(20, 10 * i.won_opportunities),
            f"{i.won_opportunities} opportunities won",
        ),
    ]


def next_change_at(i: HealthInputs) -> datetime | None:
    """The earliest future moment at which time alone changes some driver."""
    now = i.now
    moments = [
        *(t + RECENT_WINDOW for t in i.interaction_times),
        *(t + RECENT_WINDOW + BASELINE_WINDOW for t in i.interaction_times),
        *(t + ENGAGEMENT_WINDOW for t in i.interaction_times),
        *i.open_followups_due,
        *(a.responded_at + SURVEY_WINDOW for a in i.survey_answers),
        *(o.last_moved_at + STALL_AFTER for o in i.open_opportunities),
        *(t + ACTIVITY_WINDOW for t in i.activities_attended),
    ]
    future = [m for m in moments if m > now]
    return min(future) if future else None


def score(inputs: HealthInputs) -> HealthScore:
    churn = _churn_drivers(inputs)
    potential = _potential_drivers(inputs)
    return HealthScore(
        churn_risk=min(100, sum(d.points for d in churn)),
        potential=min(100, sum(d.points for d in potential)),
        drivers=(*churn, *potential),
        next_change_at=next_change_at(inputs),
    )


def churn_transition(churn_risk: int, currently_raised: bool) -> Transition | None:
    """What a new score means for the warning: raise it, clear it, or nothing (no crossing)."""
    if churn_risk >= CHURN_THRESHOLD and not currently_raised:
        return Transition.RAISE
    if churn_risk < CHURN_THRESHOLD and currently_raised:
        return Transition.CLEAR
    return None
