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
- a manual decision with a reason (``setEngagementCadence``), kept in the history;
- a merge (`after_merge`): the kept customer takes the merged one's cadence unless its own
  state is worth keeping, and the merged customer's history comes along, marked.

Events from different services arrive in no guaranteed order, so an automatic change that
happened before the current state began is ignored (a manual decision is never overridden by
an older assessment delivered late). "Before the current state began" is measured against the
newest change of the history: a state carried over by a merge began earlier (its observation
start) but was decided at the merge, and an older event for the kept customer must not undo it.

The changes the service itself decides (manual, merge) are announced with everything needed to
apply them again (`recorded_change`): a rebuild by replay applies them from the topic.
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
    MERGE = "MERGE"  # carried over from a merged customer (`after_merge`)


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
    # The merged customer this entry came from (its history carried over, and the merge's
    # own entry); None for the customer's own changes.
    merged_from: str | None = None


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


def _in_state(
    current: CustomerCadence,
    state: CadenceChange,
    history: tuple[CadenceChange, ...],
    since: datetime | None = None,
) -> CustomerCadence:
    """``current`` in the state ``state`` describes (since ``state.at`` unless given)."""
    return replace(
        current,
        cadence=state.cadence,
        since=state.at if since is None else since,
        reason=state.reason,
        source=state.source,
        actor_id=state.actor_id,
        opportunity_id=state.opportunity_id,
        note=state.note,
        history=history,
    )


def _apply(current: CustomerCadence, change: CadenceChange) -> CustomerCadence:
    return _in_state(current, change, (*current.history, change))


def last_change_at(current: CustomerCadence) -> datetime:
    """When the newest change was made (the merge, for a carried state; else ``since``)."""
    return max(current.since, current.history[-1].at) if current.history else current.since


def _older(current: CustomerCadence, at: datetime) -> bool:
    return current.version > 0 and at < last_change_at(current)


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
    if not current.in_observation or occurred_at < last_change_at(current):
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


# ---- merge ------------------------------------------------------------------------------------


def keeps_own_on_merge(kept: CustomerCadence, merged: CustomerCadence) -> bool:
    """The merge rule (docs/architecture.md, "Cadence on a merge"), first match wins:

    1. the kept customer's state is a person's decision (reason MANUAL) → it keeps it;
    2. the kept customer is in its observation period → it keeps it (start time, reason);
    3. the merged customer is in its observation period → the kept one takes it, with its
       start time and reason (an open observation period is never lost by a merge);
    4. the kept customer is at a non-default cadence (INTENSIVE) → it keeps it;
    5. otherwise the kept customer takes the merged one's state.
    """
    if kept.reason is CadenceReason.MANUAL or kept.in_observation:
        return True
    if merged.in_observation:
        return False
    return kept.cadence is not Cadence.NORMAL


def after_merge(
    kept: CustomerCadence, merged: CustomerCadence, *, actor_id: str, at: datetime
) -> CustomerCadence | None:
    """``merged`` was merged into ``kept``: the state by `keeps_own_on_merge`, the merged
    customer's history appended marked ``merged_from``, then the merge's own entry. None when
    there is nothing to carry (the merged customer never left the default) or it was carried
    already (a repeated merge call, a second replica)."""
    if merged.version == 0 or carried_already(kept, merged.customer_id):
        return None
    carried = tuple(replace(h, merged_from=merged.customer_id) for h in merged.history)
    source = kept if keeps_own_on_merge(kept, merged) else merged
    entry = CadenceChange(
        source.cadence,
        source.reason,
        CadenceSource.MERGE,
        at,
        actor_id,
        source.opportunity_id,
        source.note,
        merged.customer_id,
    )
    history = (*kept.history, *carried, entry)
    if source is kept:
        return replace(kept, history=history)
    # The merged customer's state, kept since it began (an observation period's start).
    return _in_state(kept, entry, history, since=merged.since)


def carried_already(kept: CustomerCadence, merged_id: str) -> bool:
    return any(h.merged_from == merged_id for h in kept.history)


def took_merged_state(before: CustomerCadence, after: CustomerCadence) -> bool:
    """Whether a merge changed the kept customer's state (not only its history)."""
    return (before.cadence, before.since, before.reason, before.source, before.actor_id) != (
        after.cadence,
        after.since,
        after.reason,
        after.source,
        after.actor_id,
    )


# ---- applying an announced decision again (a rebuild by replay) --------------------------------


def _same(a: CadenceChange, b: CadenceChange) -> bool:
    # Stored times keep milliseconds; an announced one may carry microseconds.
    def key(c: CadenceChange) -> tuple[object, ...]:
        ms = c.at.replace(microsecond=c.at.microsecond // 1000 * 1000)
        return (c.source, ms, c.actor_id, c.cadence, c.merged_from)

    return key(a) == key(b)


def _inserted(
    history: tuple[CadenceChange, ...], entries: tuple[CadenceChange, ...]
) -> tuple[CadenceChange, ...]:
    """``entries`` placed after every change made no later than the last of them."""
    at = entries[-1].at
    cut = len(history)
    while cut > 0 and history[cut - 1].at > at:
        cut -= 1
    return (*history[:cut], *entries, *history[cut:])


def recorded_change(
    current: CustomerCadence,
    change: CadenceChange,
    *,
    state: CadenceChange | None = None,
    carried: tuple[CadenceChange, ...] = (),
) -> CustomerCadence | None:
    """A manual decision or a merge as announced (``cadence_changed``), applied to the
    cadence a rebuild holds so far. ``state`` (a merge's): the customer's state right after it
    as live stored it (``at``: since when), taken whole, so the result does not depend on
    what the rebuild has read of the customer's own inputs yet. None if it is there already.
    A change older than the newest one held goes into the history at its place without
    changing the state (live made the newer one after it).
    """
    if any(_same(h, change) for h in current.history):
        return None
    entries = (*carried, change)
    if current.version > 0 and change.at < last_change_at(current):
        return replace(current, history=_inserted(current.history, entries))
    return _in_state(current, state or change, (*current.history, *entries))


def state_of(current: CustomerCadence) -> CadenceChange:
    """The state now as a change (``at``: since when): what a merge announces."""
    return CadenceChange(
        current.cadence,
        current.reason,
        current.source,
        current.since,
        current.actor_id,
        current.opportunity_id,
        current.note,
    )
