"""The follow-up cadence and the observation period (观察期): what moves a customer in and out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import BadUserInput
from crm_customer.domain.cadence import (
    NOTE_MAX,
    Cadence,
    CadenceReason,
    CadenceSource,
    CustomerCadence,
    after_assessment,
    after_interaction,
    after_stall,
    default_cadence,
    manual_change,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _stored(cadence: Cadence, reason: CadenceReason, at: datetime = T0) -> CustomerCadence:
    return replace(
        default_cadence("c1", at),
        cadence=cadence,
        reason=reason,
        since=at,
        version=1,
    )


def test_a_customer_without_a_record_is_normal() -> None:
    fresh = default_cadence("c1", T0)
    assert (fresh.cadence, fresh.in_observation, fresh.version) == (Cadence.NORMAL, False, 0)


def test_an_assessment_sets_the_recommended_cadence_once() -> None:
    changed = after_assessment(
        default_cadence("c1", T0),
        Cadence.INTENSIVE,
        CadenceReason.HIGH_FIT_PROACTIVE,
        opportunity_id="o1",
        actor_id="rita",
        at=T0,
    )
    assert changed is not None
    assert (changed.cadence, changed.source, changed.opportunity_id) == (
        Cadence.INTENSIVE,
        CadenceSource.ASSESSMENT,
        "o1",
    )
    assert len(changed.history) == 1
    stored = _stored(Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE)
    # The same recommendation again changes nothing (no second event).
    assert (
        after_assessment(
            stored,
            Cadence.INTENSIVE,
            CadenceReason.HIGH_FIT_PROACTIVE,
            opportunity_id="o1",
            actor_id="rita",
            at=T0 + timedelta(days=1),
        )
        is None
    )


def test_a_late_delivered_older_assessment_does_not_override_a_newer_state() -> None:
    manual = _stored(Cadence.OBSERVATION, CadenceReason.MANUAL, T0)
    assert (
        after_assessment(
            manual,
            Cadence.INTENSIVE,
            CadenceReason.HIGH_FIT_PROACTIVE,
            opportunity_id="o1",
            actor_id="rita",
            at=T0 - timedelta(minutes=1),
        )
        is None
    )


def test_a_stall_moves_into_observation_unless_there_already() -> None:
    moved = after_stall(
        _stored(Cadence.INTENSIVE, CadenceReason.ASSESSED),
        opportunity_id="o1",
        at=T0 + timedelta(days=30),
    )
    assert moved is not None
    assert (moved.cadence, moved.reason, moved.actor_id) == (
        Cadence.OBSERVATION,
        CadenceReason.NO_PROGRESS,
        "system:quoting",
    )
    observed = _stored(Cadence.OBSERVATION, CadenceReason.LOW_FIT)
    assert after_stall(observed, opportunity_id="o1", at=T0 + timedelta(days=1)) is None


def test_an_interaction_after_the_observation_began_ends_it() -> None:
    observed = _stored(Cadence.OBSERVATION, CadenceReason.NO_PROGRESS)
    # Logged after the fact about a touch before the observation began: still observed.
    assert after_interaction(observed, occurred_at=T0 - timedelta(days=2), actor_id="rita") is None
    left = after_interaction(observed, occurred_at=T0 + timedelta(hours=1), actor_id="rita")
    assert left is not None
    assert (left.cadence, left.reason, left.source) == (
        Cadence.NORMAL,
        CadenceReason.NEW_INTERACTION,
        CadenceSource.INTERACTION,
    )
    # Not in observation: an interaction changes nothing.
    intensive = _stored(Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE)
    assert after_interaction(intensive, occurred_at=T0 + timedelta(days=1), actor_id="r") is None


def test_a_manual_decision_needs_a_reason_and_a_change() -> None:
    observed = _stored(Cadence.OBSERVATION, CadenceReason.LOW_FIT)
    with pytest.raises(BadUserInput) as exc:
        manual_change(observed, Cadence.NORMAL, "   ", actor_id="mike", at=T0)
    assert exc.value.field == "input.reason"
    with pytest.raises(BadUserInput) as too_long:
        manual_change(observed, Cadence.NORMAL, "x" * (NOTE_MAX + 1), actor_id="mike", at=T0)
    assert too_long.value.field == "input.reason"
    with pytest.raises(BadUserInput) as same:
        manual_change(observed, Cadence.OBSERVATION, "still quiet", actor_id="mike", at=T0)
    assert same.value.field == "input.cadence"
    done = manual_change(observed, Cadence.NORMAL, " budget  approved ", actor_id="mike", at=T0)
    assert (done.cadence, done.note, done.history[-1].source) == (
        Cadence.NORMAL,
        "budget approved",
        CadenceSource.MANUAL,
    )
