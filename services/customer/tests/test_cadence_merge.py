"""The follow-up cadence on a merge (`domain.cadence.after_merge`) and a rebuild applying the
service's own announced decisions again (`domain.cadence.recorded_change`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from crm_customer.domain.cadence import (
    Cadence,
    CadenceReason,
    CadenceSource,
    CustomerCadence,
    after_assessment,
    after_interaction,
    after_merge,
    after_stall,
    default_cadence,
    keeps_own_on_merge,
    manual_change,
    recorded_change,
    state_of,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MERGE_AT = T0 + timedelta(days=5)


def _stalled(customer_id: str, at: datetime = T0) -> CustomerCadence:
    stalled = after_stall(
        default_cadence(customer_id, at), opportunity_id="o-" + customer_id, at=at
    )
    assert stalled is not None
    return replace(stalled, version=1)


def _manual(customer_id: str, cadence: Cadence, at: datetime = T0) -> CustomerCadence:
    start = _stalled(customer_id, at - timedelta(days=1))  # (NORMAL is the default)
    current = manual_change(start, cadence, "asked", actor_id="u", at=at)
    return replace(current, version=1)


def _assessed(customer_id: str, cadence: Cadence, reason: CadenceReason) -> CustomerCadence:
    current = after_assessment(
        default_cadence(customer_id, T0), cadence, reason, opportunity_id="o", actor_id="u", at=T0
    )
    assert current is not None
    return replace(current, version=1)


def _merge(kept: CustomerCadence, merged: CustomerCadence) -> CustomerCadence:
    after = after_merge(kept, merged, actor_id="mgr", at=MERGE_AT)
    assert after is not None
    return after


def test_a_normal_customer_takes_the_observation_period_of_the_merged_one() -> None:
    merged = _stalled("a")
    after = _merge(default_cadence("b", T0), merged)
    assert after.cadence is Cadence.OBSERVATION
    # The period keeps its start and reason; the merge is what the state came from.
    assert (after.since, after.reason, after.source) == (
        T0,
        CadenceReason.NO_PROGRESS,
        CadenceSource.MERGE,
    )
    assert after.opportunity_id == "o-a"
    assert after.actor_id == "mgr"
    # The merged customer's history is appended, marked, then the merge's own entry.
    assert [(h.source, h.merged_from) for h in after.history] == [
        (CadenceSource.STALL, "a"),
        (CadenceSource.MERGE, "a"),
    ]
    assert after.history[-1].at == MERGE_AT


def test_the_rule_in_order() -> None:
    observation, intensive = (
        _stalled("a"),
        _assessed("a", Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE),
    )
    # 1. a person's decision on the kept customer stays (even over an observation period)
    assert keeps_own_on_merge(_manual("b", Cadence.NORMAL), observation)
    # 2. the kept customer's own observation period stays
    assert keeps_own_on_merge(_stalled("b"), intensive)
    # 3. the merged customer's open observation period is taken over an automatic INTENSIVE
    assert not keeps_own_on_merge(
        _assessed("b", Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE), observation
    )
    # 4. a non-default kept cadence stays
    assert keeps_own_on_merge(
        _assessed("b", Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE),
        _assessed("a", Cadence.NORMAL, CadenceReason.ASSESSED),
    )
    # 5. otherwise the merged customer's state (here: its manual INTENSIVE)
    assert not keeps_own_on_merge(default_cadence("b", T0), _manual("a", Cadence.INTENSIVE))


def test_keeping_its_own_state_still_carries_the_history() -> None:
    kept = _manual("b", Cadence.INTENSIVE)
    after = _merge(kept, _stalled("a"))
    assert (after.cadence, after.since, after.reason, after.source) == (
        kept.cadence,
        kept.since,
        kept.reason,
        kept.source,
    )
    assert [h.merged_from for h in after.history] == [None, None, "a", "a"]
    assert after.history[-1].cadence is Cadence.INTENSIVE


def test_nothing_to_carry_and_a_repeated_merge_change_nothing() -> None:
    assert after_merge(_stalled("b"), default_cadence("a", T0), actor_id="m", at=MERGE_AT) is None
    once = replace(_merge(default_cadence("b", T0), _stalled("a")), version=1)
    assert after_merge(once, _stalled("a"), actor_id="m", at=MERGE_AT + timedelta(1)) is None


def test_an_older_event_for_the_kept_customer_does_not_undo_the_carried_state() -> None:
    carried = replace(_merge(default_cadence("b", T0), _stalled("a")), version=1)
    # An assessment and an interaction of the kept customer made before the merge, late.
    before_merge = MERGE_AT - timedelta(days=1)
    assert (
        after_assessment(
            carried,
            Cadence.NORMAL,
            CadenceReason.ASSESSED,
            opportunity_id="o",
            actor_id="u",
            at=before_merge,
        )
        is None
    )
    assert after_interaction(carried, occurred_at=before_merge, actor_id="u") is None
    # One after the merge ends the observation period as usual.
    ended = after_interaction(carried, occurred_at=MERGE_AT + timedelta(hours=1), actor_id="u")
    assert ended is not None and ended.cadence is Cadence.NORMAL


def _recorded_again(
    live_before: CustomerCadence, live_after: CustomerCadence, rebuilt: CustomerCadence
) -> CustomerCadence | None:
    carried = live_after.history[len(live_before.history) : -1]
    return recorded_change(
        rebuilt, live_after.history[-1], state=state_of(live_after), carried=carried
    )


def test_a_rebuild_applies_a_merge_and_a_manual_decision_as_live_did() -> None:
    kept = default_cadence("b", T0)
    live = _merge(kept, _stalled("a"))
    rebuilt = _recorded_again(kept, live, default_cadence("b", T0))
    assert rebuilt == live
    # Again (a redelivery): nothing.
    assert _recorded_again(kept, live, replace(live, version=1)) is None
    # A manual decision after it.
    stored = replace(live, version=1)
    decided = manual_change(
        stored, Cadence.NORMAL, "called back", actor_id="u", at=MERGE_AT + timedelta(days=1)
    )
    again = recorded_change(stored, decided.history[-1])
    assert again == decided


def test_a_kept_own_state_comes_out_the_same_in_a_rebuild() -> None:
    kept = _manual("b", Cadence.INTENSIVE)
    live = _merge(kept, _stalled("a"))
    assert _recorded_again(kept, live, kept) == live


def test_an_older_announced_decision_read_late_goes_into_the_history_at_its_place() -> None:
    # Live: a manual decision at T0+1h, then a stall at T0+2h. A rebuild reads the stall first.
    decided = manual_change(
        default_cadence("b", T0), Cadence.INTENSIVE, "vip", actor_id="u", at=T0 + timedelta(hours=1)
    )
    live = after_stall(replace(decided, version=1), opportunity_id="o", at=T0 + timedelta(hours=2))
    assert live is not None
    stalled_first = after_stall(
        default_cadence("b", T0), opportunity_id="o", at=T0 + timedelta(hours=2)
    )
    assert stalled_first is not None
    rebuilt = recorded_change(replace(stalled_first, version=1), decided.history[-1])
    assert rebuilt is not None
    assert rebuilt.history == live.history
    assert (rebuilt.cadence, rebuilt.since, rebuilt.reason) == (
        live.cadence,
        live.since,
        live.reason,
    )


def test_a_kept_own_state_is_rebuilt_even_before_the_kept_customers_own_inputs() -> None:
    # Live: B assessed INTENSIVE (kept on the merge). A rebuild reads the merge first.
    kept = _assessed("b", Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE)
    live = _merge(kept, _stalled("a"))
    rebuilt = _recorded_again(kept, live, default_cadence("b", T0))
    assert rebuilt is not None
    assert (rebuilt.cadence, rebuilt.since, rebuilt.reason, rebuilt.source) == (
        live.cadence,
        live.since,
        live.reason,
        live.source,
    )
