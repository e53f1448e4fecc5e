"""Pure insights rules: periods, report scope, funnel arithmetic, health model, projections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden
from crm_common.events.contracts.quoting import OpportunityStageChanged
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.customer_counts import CustomerCounts, StatusCount, TierCount, summarize
from crm_insights.domain.health import (
    CHURN_THRESHOLD,
    HealthInputs,
    OpenOpportunity,
    SurveyAnswer,
    Transition,
    churn_transition,
    score,
)
from crm_insights.domain.periods import Bucket, bucket_key
from crm_insights.domain.reports import quote_approvals, sales_funnel
from crm_insights.domain.scope import ReportScope, scope_for
from crm_insights.service.projections import PROJECTORS

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _principal(*roles: str, user: str = "u1", team: str | None = None) -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles), team=team)


def test_summarize_orders_by_status_and_totals() -> None:
    assert summarize({"LEAD": 2, "PENDING_REVIEW": 3, "DEAL": 0}) == CustomerCounts(
        total=5, by_status=(StatusCount("LEAD", 2), StatusCount("PENDING_REVIEW", 3))
    )


def test_summarize_counts_value_tiers() -> None:
    counts = summarize({"LEAD": 3}, {"B": 1, "A": 2, "C": 0})
    assert counts.by_value_tier == (TierCount("A", 2), TierCount("B", 1))


@pytest.mark.parametrize(
    ("bucket", "key"),
    [(Bucket.DAY, "2026-01-01"), (Bucket.WEEK, "2026-W01"), (Bucket.MONTH, "2026-01")],
)
def test_bucket_keys_use_iso_weeks(bucket: Bucket, key: str) -> None:
    # 1 January 2026 is a Thursday: ISO week 1 of 2026.
    assert bucket_key(datetime(2026, 1, 1, 23, tzinfo=UTC), bucket) == key


@pytest.mark.parametrize(
    "role", [Role.ADMIN, Role.ANALYST, Role.SALES_MANAGER, Role.SERVICE_MANAGER]
)
def test_report_readers_keep_their_filters(role: str) -> None:
    requested = ReportScope(tenant_id="t1", owner_id="someone")
    assert scope_for(_principal(role), requested) == requested


def test_a_sales_rep_is_narrowed_to_their_own_numbers() -> None:
    rep = _principal(Role.SALES_REP, user="rep-a", team="north")
    assert scope_for(rep, ReportScope(tenant_id="t1")).owner_id == "rep-a"
    with pytest.raises(Forbidden):
        scope_for(rep, ReportScope(tenant_id="t1", owner_id="rep-b"))
    with pytest.raises(Forbidden):
        scope_for(rep, ReportScope(tenant_id="t1", team="south"))


def test_other_roles_and_inverted_ranges_are_refused() -> None:
    with pytest.raises(Forbidden):
        scope_for(_principal(Role.SERVICE_AGENT), ReportScope(tenant_id="t1"))
    with pytest.raises(BadUserInput):
        scope_for(_principal(Role.ADMIN), ReportScope(tenant_id="t1", start=NOW, end=NOW))


def test_funnel_counts_an_opportunity_at_every_stage_up_to_its_furthest() -> None:
    # Furthest stages: 2 at INITIAL_CONTACT (0), 1 at QUOTE (3), 1 WON (5).
    funnel = sales_funnel(
        furthest_counts={0: 2, 3: 1, 5: 1},
        furthest_amounts={(0, "CNY"): 300, (3, "CNY"): 500, (5, "CNY"): 700, (5, "USD"): 9},
        outcome_counts={"OPEN": 2, "LOST": 1, "WON": 1},
        won_cycles=[timedelta(days=3)],
        trend_counts={("2026-11", "WON"): 1, ("2026-11", "OPEN"): 2, ("2026-11", "LOST"): 1},
    )
    assert [s.reached for s in funnel.stages] == [4, 2, 2, 2, 1, 1]
    assert [s.conversion_from_previous for s in funnel.stages] == [None, 0.5, 1.0, 1.0, 0.5, 1.0]
    assert [(a.currency, a.amount_minor) for a in funnel.stages[0].amounts] == [
        ("CNY", 1500),
        ("USD", 9),
    ]
    assert (funnel.win_rate, funnel.average_cycle_days, funnel.open) == (0.5, 3.0, 2)
    assert funnel.trend[0].created == 4


def test_empty_funnel_has_no_rates() -> None:
    funnel = sales_funnel({}, {}, {}, [], {})
    assert funnel.win_rate is None and funnel.average_cycle_days is None
    assert all(s.conversion_from_previous is None for s in funnel.stages)


def test_quote_approval_rates() -> None:
    report = quote_approvals(
        {"AUTO": 2, "MANUAL": 1, "REJECTED": 1, "PENDING": 3},
        {"ACCEPTED": 1},
        [timedelta(hours=1), timedelta(hours=5)],
        {},
    )
    assert (report.submitted, report.approval_rate, report.automatic_share) == (7, 0.75, 0.6667)
    assert report.average_decision_hours == 3.0


def test_churn_score_adds_its_drivers_and_caps_them() -> None:
    inputs = HealthInputs(
        now=NOW,
        # Baseline 6 per 30 days (18 in days 30-120), 0 recently: a full drop, 30 points.
        interaction_times=tuple(NOW - timedelta(days=31 + 5 * n) for n in range(18)),
        open_followups_due=(NOW - timedelta(days=1), NOW - timedelta(days=2), NOW),
        open_urgent_tickets=5,
        survey_answers=(SurveyAnswer(NOW - timedelta(days=3), 5, 2),),  # average 2.5 → 8
        open_opportunities=(OpenOpportunity("QUOTE", NOW - timedelta(days=40), 10),),
    )
    result = score(inputs)
    churn = {d.name: d.points for d in result.drivers if d.model == "churn"}
    assert churn == {
        "interaction_drop": 30,
        "overdue_followups": 20,
        "open_urgent_tickets": 20,
        "low_satisfaction": 8,
        "stalled_opportunities": 8,
    }
    assert result.churn_risk == 86


def test_no_baseline_means_no_interaction_drop() -> None:
    result = score(HealthInputs(now=NOW, interaction_times=(NOW - timedelta(days=100),)))
    assert result.churn_risk == 0
    # That interaction leaves the baseline window in 20 days: the next time-based change.
    assert result.next_change_at == NOW - timedelta(days=100) + timedelta(days=120)


def test_potential_drivers() -> None:
    inputs = HealthInputs(
        now=NOW,
        interaction_times=tuple(NOW - timedelta(days=n) for n in range(1, 6)),
        open_opportunities=(OpenOpportunity("NEGOTIATION", NOW, 20_000_000),),
        won_opportunities=1,
        activities_attended=(NOW - timedelta(days=10),),
    )
    potential = {d.name: d.points for d in score(inputs).drivers if d.model == "potential"}
    assert potential == {"budget": 20, "stage": 30, "engagement": 18, "history": 10}


def test_a_crossing_is_announced_once_each_way() -> None:
    assert churn_transition(CHURN_THRESHOLD, currently_raised=False) is Transition.RAISE
    assert churn_transition(CHURN_THRESHOLD + 10, currently_raised=True) is None
    assert churn_transition(CHURN_THRESHOLD - 1, currently_raised=True) is Transition.CLEAR
    assert churn_transition(0, currently_raised=False) is None


def test_stage_change_projection_is_guarded_by_its_time() -> None:
    payload = OpportunityStageChanged(
        opportunity_id="o1",
        customer_id="c1",
        owner_id="rep",
        from_stage="SOLUTION",
        to_stage="LOST",
        probability=0,
        amount_minor=5,
        currency="CNY",
        actor_id="rep",
        changed_at=NOW,
    )
    event = CloudEvent.new(payload, source="crm/quoting", tenant_id="t1", key="c1")
    projection = PROJECTORS[OpportunityStageChanged](event, payload)
    (change,) = projection.changes
    assert change.guarded is not None and change.guarded["stage"][0] == NOW
    # LOST is not a stage: the furthest stage stays SOLUTION (index 2).
    assert change.maximum == {"furthest": 2}
    assert projection.dirty == ("c1",)
