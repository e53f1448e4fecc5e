"""Opportunities, their pipeline stages and the rules for moving between them. Pure: no I/O.

Moves allowed (anything else is ``BAD_USER_INPUT`` on ``input.stage``):

- one stage forward along initial contact → needs analysis → solution → quote → negotiation;
- back to any earlier open stage (the deal needs rework);
- to ``LOST`` from any open stage, with a loss reason;
- to ``WON`` from ``QUOTE`` or ``NEGOTIATION`` (normally by an accepted quote);
- nothing out of ``WON`` or ``LOST``: they are final.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from crm_common.errors import BadUserInput
from crm_quoting.domain.assessment import Assessment
from crm_quoting.domain.money import Money, parse_amount_minor, parse_currency

NAME_MAX = 200
LOSS_REASON_MAX = 1000


class OpportunityStage(StrEnum):
    INITIAL_CONTACT = "INITIAL_CONTACT"
    NEEDS_ANALYSIS = "NEEDS_ANALYSIS"
    SOLUTION = "SOLUTION"
    QUOTE = "QUOTE"
    NEGOTIATION = "NEGOTIATION"
    WON = "WON"
    LOST = "LOST"

    @property
    def is_closed(self) -> bool:
        return self in (OpportunityStage.WON, OpportunityStage.LOST)


INITIAL_STAGE = OpportunityStage.INITIAL_CONTACT
OPEN_STAGES = (
    OpportunityStage.INITIAL_CONTACT,
    OpportunityStage.NEEDS_ANALYSIS,
    OpportunityStage.SOLUTION,
    OpportunityStage.QUOTE,
    OpportunityStage.NEGOTIATION,
)
WINNABLE_FROM = (OpportunityStage.QUOTE, OpportunityStage.NEGOTIATION)

# Win probability (percent) an opportunity gets on entering a stage unless the mover says otherwise.
DEFAULT_PROBABILITY = {
    OpportunityStage.INITIAL_CONTACT: 10,
    OpportunityStage.NEEDS_ANALYSIS: 20,
    OpportunityStage.SOLUTION: 40,
    OpportunityStage.QUOTE: 60,
    OpportunityStage.NEGOTIATION: 80,
    OpportunityStage.WON: 100,
    OpportunityStage.LOST: 0,
}


@dataclass(frozen=True, slots=True)
class StageChange:
    """One entry of the stage history: who moved it where, when, and why."""

    from_stage: OpportunityStage | None
    to_stage: OpportunityStage
    actor_id: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Opportunity:
    id: str
    tenant_id: str
    customer_id: str
    name: str
    stage: OpportunityStage
    owner_id: str
    team: str | None
    amount: Money
    probability: int
    expected_close_date: date | None
    created_at: datetime
    updated_at: datetime
    loss_reason: str | None = None
    history: tuple[StageChange, ...] = field(default_factory=tuple)
    # Stage assessments, oldest first (`domain.assessment`), and when the opportunity counts
    # as stalled if no further decision progress is noted (None: never assessed, or handled).
    assessments: tuple[Assessment, ...] = field(default_factory=tuple)
    progress_due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewOpportunity:
    """A validated request to open an opportunity."""

    customer_id: str
    name: str
    amount: Money
    probability: int
    expected_close_date: date | None


def validate_probability(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not 0 <= value <= 100:
        raise BadUserInput("probability must be a percentage between 0 and 100", field=field)
    return value


def validate_new_opportunity(
    *,
    customer_id: str,
    name: str,
    amount_minor: str | int = 0,
    currency: str = "CNY",
    probability: int | None = None,
    expected_close_date: date | None = None,
) -> NewOpportunity:
    """Check a new opportunity; the first problem is raised with the input field it concerns."""
    clean_customer = customer_id.strip()
    if not clean_customer:
        raise BadUserInput("customerId must not be empty", field="input.customerId")
    clean_name = re.sub(r"\s+", " ", name).strip()
    if not clean_name:
        raise BadUserInput("name must not be empty", field="input.name")
    if len(clean_name) > NAME_MAX:
        raise BadUserInput(f"name is longer than {NAME_MAX} characters", field="input.name")
    amount = Money(
        parse_amount_minor(amount_minor, "input.amount.amountMinor"),
        parse_currency(currency, "input.amount.currency"),
    )
    chosen = validate_probability(probability, "input.probability")
    return NewOpportunity(
        customer_id=clean_customer,
        name=clean_name,
        amount=amount,
        probability=DEFAULT_PROBABILITY[INITIAL_STAGE] if chosen is None else chosen,
        expected_close_date=expected_close_date,
    )


def check_move(
    current: OpportunityStage, target: OpportunityStage, loss_reason: str | None
) -> str | None:
    """Raise if ``current → target`` is not a legal move; return the cleaned loss reason."""
    if current.is_closed:
        raise BadUserInput(
            f"the opportunity is {current.value}; a closed opportunity does not move",
            field="input.stage",
        )
    if target == current:
        raise BadUserInput(f"the opportunity is already at {current.value}", field="input.stage")
    reason = (loss_reason or "").strip() or None
    if target == OpportunityStage.LOST:
        if reason is None:
            raise BadUserInput("a lost opportunity needs a loss reason", field="input.lossReason")
        if len(reason) > LOSS_REASON_MAX:
            raise BadUserInput(
                f"lossReason is longer than {LOSS_REASON_MAX} characters", field="input.lossReason"
            )
        return reason
    if reason is not None:
        raise BadUserInput("a loss reason only goes with LOST", field="input.lossReason")
    if target == OpportunityStage.WON:
        if current not in WINNABLE_FROM:
            raise BadUserInput(
                "an opportunity is won from QUOTE or NEGOTIATION", field="input.stage"
            )
        return None
    here, there = OPEN_STAGES.index(current), OPEN_STAGES.index(target)
    if there > here + 1:
        following = OPEN_STAGES[here + 1].value
        raise BadUserInput(
            f"{current.value} moves forward one stage at a time (next: {following})",
            field="input.stage",
        )
    return None
