"""Stage assessment of an opportunity and the follow-up cadence it recommends. Pure: no I/O.

A sales rep assesses an open opportunity on three points: 需求匹配度 (how well our offer fits
the customer's need: HIGH / MEDIUM / LOW), 合作意向度 (how engaged the customer is: PROACTIVE /
RESPONSIVE / SILENT) and 决策进展 (free text: where the customer's decision stands). Every
assessment is kept (who, when, what), newest last.

The documented strategy (docs/architecture.md, "Stage assessment and the observation period"):

- high fit and proactive engagement → the customer is followed INTENSIVELY (shorter intervals);
- low fit → the customer goes into the OBSERVATION period (观察期, longer intervals);
- anything else → NORMAL cadence;
- no decision progress for the tenant's ``observation_after_days`` (default 30) since the last
  assessment that noted some → the opportunity has STALLED, and its customer goes into the
  observation period too (the stall loop, ``service/stall.py``).

The customer service owns the customer's cadence (it also leaves the observation period on a
new interaction or a manual decision); quoting only recommends one per assessment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput

PROGRESS_MAX = 2000
DEFAULT_OBSERVATION_AFTER_DAYS = 30
OBSERVATION_AFTER_DAYS_MAX = 365


class Fit(StrEnum):
    """需求匹配度: how well what we offer fits the customer's need."""

    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Engagement(StrEnum):
    """合作意向度: how the customer takes part."""

    PROACTIVE = "PROACTIVE"  # reaches out, pushes the project
    RESPONSIVE = "RESPONSIVE"  # answers when asked
    SILENT = "SILENT"  # does not answer


class Cadence(StrEnum):
    """How closely a customer is followed up (the customer service holds the customer's)."""

    INTENSIVE = "INTENSIVE"
    NORMAL = "NORMAL"
    OBSERVATION = "OBSERVATION"


class CadenceReason(StrEnum):
    HIGH_FIT_PROACTIVE = "HIGH_FIT_PROACTIVE"
    LOW_FIT = "LOW_FIT"
    ASSESSED = "ASSESSED"  # neither rule applies: normal cadence
    NO_PROGRESS = "NO_PROGRESS"


@dataclass(frozen=True, slots=True)
class Assessment:
    """One assessment of an opportunity: who, when, what."""

    fit: Fit
    engagement: Engagement
    decision_progress: str | None
    actor_id: str
    at: datetime

    @property
    def notes_progress(self) -> bool:
        return self.decision_progress is not None


def clean_progress(text: str | None) -> str | None:
    """The decision progress text, whitespace-normalised; None if empty."""
    if text is None:
        return None
    clean = re.sub(r"[ \t]+", " ", text).strip()
    if not clean:
        return None
    if len(clean) > PROGRESS_MAX:
        raise BadUserInput(
            f"decisionProgress is longer than {PROGRESS_MAX} characters",
            field="input.decisionProgress",
        )
    return clean


def recommended_cadence(fit: Fit, engagement: Engagement) -> tuple[Cadence, CadenceReason]:
    """The cadence an assessment recommends, and why (the documented strategy)."""
    if fit is Fit.LOW:
        return Cadence.OBSERVATION, CadenceReason.LOW_FIT
    if fit is Fit.HIGH and engagement is Engagement.PROACTIVE:
        return Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE
    return Cadence.NORMAL, CadenceReason.ASSESSED


def validate_observation_after_days(days: int, field: str) -> int:
    if isinstance(days, bool) or not 1 <= days <= OBSERVATION_AFTER_DAYS_MAX:
        raise BadUserInput(
            f"observationAfterDays must be between 1 and {OBSERVATION_AFTER_DAYS_MAX}",
            field=field,
        )
    return days


def progress_due(
    previous_due: datetime | None,
    assessment: Assessment,
    first: bool,
    observation_after_days: int,
) -> datetime | None:
    """When the opportunity counts as stalled if nothing more is noted: the clock starts at the
    first assessment and restarts at each one that notes decision progress."""
    if first or assessment.notes_progress:
        return assessment.at + timedelta(days=observation_after_days)
    return previous_due
