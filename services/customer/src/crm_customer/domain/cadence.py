"""A customer's follow-up cadence and the observation period (观察期). Pure: no I/O.

Every customer is followed at one of three cadences: INTENSIVE (shorter follow-up intervals),
NORMAL, or OBSERVATION (the observation period: longer intervals, listed and counted as such).
A customer with no record is NORMAL.

What changes it (docs/architecture.md, "Stage assessment and the observation period"):

- a stage assessment in quoting (``crm.quoting.opportunity_assessed``) sets the cadence it
  recommends: high fit + proactive → INTENSIVE, low fit → OBSERVATION, else NORMAL;
- an assessed opportunity without decision progress for the tenant's period
  (``crm.quoting.opportunity_stalled``) → OBSERVATION (reason NO_PROGRESS);
- a new interaction (``crm.engagement.interaction_logged``) that happened after the
  observation period began → NORMAL (the customer is active again);
- a manual decision with a reason (``setEngagementCadence``), kept in the history.

Events from different services arrive in no guaranteed order, so an automatic change that
happened before the current state began is ignored (a manual decision is never overridden by
an older assessment delivered late).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput

NOTE_MAX = 500


class Cadence(StrEnum):
    INTENSIVE = "INTENSIVE"
    NORMAL = "NORMAL"
    OBSERVATION = "OBSERVATION"


class CadenceReason(StrEnum):
    HIGH_FIT_PROACTIVE = "HIGH_FIT_PROACTIVE"  # assessment: high fit, proactive engagement
    LOW_FIT = "LOW_FIT"  # assessment: low fit
    ASSESSED = "ASSESSED"  # assessment: neither, normal cadence
    NO_PROGRESS = "NO_PROGRESS"  # no decision progress for the tenant's period
    NEW_INTERACTION = "NEW_INTERACTION"  # an interaction after the observation began
    MANUAL = "MANUAL"  # a person decided (see the note)


class CadenceSource(StrEnum):
    ASSESSMENT = "ASSESSMENT"
    STALL = "STALL"
    INTERACTION = "INTERACTION"
    MANUAL = "MANUAL"


@dataclass(frozen=True, slots=True)
class CadenceChange:
    """One entry of the cadence history."""

    cadence: Cadence
    reason: CadenceReason
    source: CadenceSource
    at: datetime
    actor_id: str
    opportunity_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerCadence:
    """A customer's cadence now (``since``: when it began), with its history, newest last."""

    customer_id: str
    cadence: Cadence
    since: datetime
    reason: CadenceReason
    source: CadenceSource
    actor_id: str
    opportunity_id: str | None = None
    note: str | None = None
    version: int = 0  # 0: not stored yet (NORMAL by default)
    history: tuple[CadenceChange, ...] = field(default_factory=tuple)

    @property
    def in_observation(self) -> bool:
        return self.cadence is Cadence.OBSERVATION


def default_cadence(customer_id: str, since: datetime) -> CustomerCadence:
    return CustomerCadence(
        customer_id, Cadence.NORMAL, since, CadenceReason.ASSESSED, CadenceSource.ASSESSMENT, ""
    )


def _apply(current: CustomerCadence, change: CadenceChange) -> CustomerCadence:
    return replace(
        current,
        cadence=change.cadence,
        since=change.at,
        reason=change.reason,
        source=change.source,
        actor_id=change.actor_id,
        opportunity_id=change.opportunity_id,
        note=change.note,
        history=(*current.history, change),
    )


def _older(current: CustomerCadence, at: datetime) -> bool:
    return current.version > 0 and at < current.since


def after_assessment(
    current: CustomerCadence,
    cadence: Cadence,
    reason: CadenceReason,
    *,
    opportunity_id: str,
    actor_id: str,
    at: datetime,
) -> CustomerCadence | None:
    """The recommended cadence of an assessment; None if nothing changes."""
    if _older(current, at):
        return None
    if current.cadence is cadence and current.reason is reason and current.version > 0:
        return None
    change = CadenceChange(cadence, reason, CadenceSource.ASSESSMENT, at, actor_id, opportunity_id)
    return _apply(current, change)


def after_stall(
    current: CustomerCadence, *, opportunity_id: str, at: datetime
) -> CustomerCadence | None:
    """No decision progress for the tenant's period: into observation (unless already)."""
    if _older(current, at) or current.in_observation:
        return None
    change = CadenceChange(
        Cadence.OBSERVATION,
        CadenceReason.NO_PROGRESS,
        CadenceSource.STALL,
        at,
        "system:quoting",
        opportunity_id,
    )
    return _apply(current, change)


def after_interaction(
    current: CustomerCadence, *, occurred_at: datetime, actor_id: str
) -> CustomerCadence | None:
    """A new interaction ends the observation period if it happened after it began."""
    if not current.in_observation or occurred_at < current.since:
        return None
    change = CadenceChange(
        Cadence.NORMAL,
        CadenceReason.NEW_INTERACTION,
        CadenceSource.INTERACTION,
        occurred_at,
        actor_id,
    )
    return _apply(current, change)


def clean_note(note: str) -> str:
    clean = re.sub(r"\s+", " ", note).strip()
    if not clean:
        raise BadUserInput("a manual cadence change needs a reason", field="input.reason")
    if len(clean) > NOTE_MAX:
        raise BadUserInput(f"reason is longer than {NOTE_MAX} characters", field="input.reason")
    return clean


def manual_change(
    current: CustomerCadence, cadence: Cadence, note: str, *, actor_id: str, at: datetime
) -> CustomerCadence:
    """A person's decision (with a reason); it must change the cadence."""
    reason = clean_note(note)
    if current.cadence is cadence:
        raise BadUserInput(
            f"the customer's cadence is {cadence.value} already", field="input.cadence"
        )
    change = CadenceChange(
        cadence, CadenceReason.MANUAL, CadenceSource.MANUAL, at, actor_id, None, reason
    )
    return _apply(current, change)
