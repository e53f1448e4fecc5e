"""Stage assessment: the recommended cadence, decision progress, the stall clock and loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Forbidden
from crm_common.events.envelope import CloudEvent
from crm_quoting.domain.assessment import (
    PROGRESS_MAX,
    Assessment,
    Cadence,
    CadenceReason,
    Engagement,
    Fit,
    clean_progress,
    progress_due,
    recommended_cadence,
    validate_observation_after_days,
)
from crm_quoting.domain.money import Money
from crm_quoting.domain.opportunity import Opportunity, OpportunityStage
from crm_quoting.service.opportunities import AssessOpportunityCommand, OpportunityService
from crm_quoting.service.stall import last_progress_at, settle_stalled, stall_event_id

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fit", "engagement", "expected"),
    [
        (Fit.HIGH, Engagement.PROACTIVE, (Cadence.INTENSIVE, CadenceReason.HIGH_FIT_PROACTIVE)),
        (Fit.HIGH, Engagement.RESPONSIVE, (Cadence.NORMAL, CadenceReason.ASSESSED)),
        (Fit.MEDIUM, Engagement.PROACTIVE, (Cadence.NORMAL, CadenceReason.ASSESSED)),
        (Fit.MEDIUM, Engagement.SILENT, (Cadence.NORMAL, CadenceReason.ASSESSED)),
        (Fit.LOW, Engagement.PROACTIVE, (Cadence.OBSERVATION, CadenceReason.LOW_FIT)),
        (Fit.LOW, Engagement.SILENT, (Cadence.OBSERVATION, CadenceReason.LOW_FIT)),
    ],
)
def test_the_documented_strategy(
    fit: Fit, engagement: Engagement, expected: tuple[Cadence, CadenceReason]
) -> None:
    assert recommended_cadence(fit, engagement) == expected


def test_decision_progress_is_cleaned_and_bounded() -> None:
    assert clean_progress(None) is None
    assert clean_progress("   ") is None
    assert clean_progress("  采购  委员会\t已立项 ") == "采购 委员会 已立项"
    with pytest.raises(BadUserInput) as exc:
        clean_progress("x" * (PROGRESS_MAX + 1))
    assert exc.value.field == "input.decisionProgress"


def test_observation_period_bounds() -> None:
    assert validate_observation_after_days(30, "f") == 30
    for bad in (0, 366, True):
        with pytest.raises(BadUserInput):
            validate_observation_after_days(bad, "input.observationAfterDays")


def _assessment(progress: str | None, at: datetime = NOW) -> Assessment:
    return Assessment(Fit.MEDIUM, Engagement.RESPONSIVE, progress, "rita", at)


def test_the_stall_clock_starts_at_the_first_assessment_and_restarts_on_progress() -> None:
    first = progress_due(None, _assessment(None), True, 30)
    assert first == NOW + timedelta(days=30)
    later = NOW + timedelta(days=10)
    # Nothing noted: the clock keeps running.
    assert progress_due(first, _assessment(None, later), False, 30) == first
    # Progress noted: it restarts.
    assert progress_due(first, _assessment("budget approved", later), False, 30) == later + (
        timedelta(days=30)
    )


def _opportunity(**changes: object) -> Opportunity:
    base = Opportunity(
        id="o1",
        tenant_id="t1",
        customer_id="c1",
        name="CRM",
        stage=OpportunityStage.SOLUTION,
        owner_id="rita",
        team="north",
        amount=Money(0, "CNY"),
        probability=40,
        expected_close_date=None,
        created_at=NOW - timedelta(days=60),
        updated_at=NOW,
        assessments=(
            _assessment(None, NOW - timedelta(days=50)),
            _assessment("trial running", NOW - timedelta(days=40)),
            _assessment(None, NOW - timedelta(days=35)),
        ),
        progress_due_at=NOW - timedelta(days=10),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class FakeStallStore:
    def __init__(self, found: list[Opportunity]) -> None:
        self.found = found
        self.settled: list[tuple[str, list[CloudEvent]]] = []

    async def due(self, now: datetime, limit: int) -> list[Opportunity]:
        return [o for o in self.found if o.progress_due_at and o.progress_due_at <= now][:limit]

    async def settle(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> bool:
        if any(o.id == opportunity.id for o, _ in ((x, 0) for x in self.found)):
            self.found = [o for o in self.found if o.id != opportunity.id]
            self.settled.append((opportunity.id, list(events)))
            return True
        return False


async def test_the_loop_announces_a_stalled_opportunity_once_with_a_stable_id() -> None:
    opportunity = _opportunity()
    assert last_progress_at(opportunity) == NOW - timedelta(days=40)
    store = FakeStallStore([opportunity, _opportunity(id="o2", stage=OpportunityStage.WON)])
    assert await settle_stalled(store, lambda: NOW) == 1
    (first_id, events), (closed_id, closed_events) = store.settled
    assert (first_id, closed_id, closed_events) == ("o1", "o2", [])
    (event,) = events
    assert event.type == "crm.quoting.opportunity_stalled"
    assert event.id == stall_event_id(opportunity)
    assert event.data["customer_id"] == "c1"
    assert event.data["observation_after_days"] == 30
    # Nothing left: a second pass (another replica) announces nothing.
    assert await settle_stalled(store, lambda: NOW) == 0


class FakeOpportunities:
    def __init__(self, opportunity: Opportunity) -> None:
        self.opportunity = opportunity
        self.events: list[CloudEvent] = []

    async def get(self, opportunity_id: str, visibility: object) -> Opportunity | None:
        return self.opportunity if opportunity_id == self.opportunity.id else None

    async def assess(
        self,
        opportunity: Opportunity,
        assessment: Assessment,
        progress_due_at: datetime | None,
        events: Sequence[CloudEvent],
    ) -> bool:
        self.opportunity = replace(
            opportunity,
            assessments=(*opportunity.assessments, assessment),
            progress_due_at=progress_due_at,
        )
        self.events.extend(events)
        return True


def _service(repo: FakeOpportunities, *roles: str) -> OpportunityService:
    principal = Principal(user_id="rita", tenant_id="t1", roles=frozenset(roles), team="north")
    return OpportunityService(
        principal,
        repo,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        lambda: None,
        clock=lambda: NOW,
    )


async def test_assessing_announces_the_recommended_cadence_and_restarts_the_clock() -> None:
    repo = FakeOpportunities(_opportunity())
    assessed = await _service(repo, "sales_rep").assess(
        AssessOpportunityCommand("o1", Fit.LOW, Engagement.SILENT, "  no budget this year ")
    )
    assert assessed.assessments[-1].decision_progress == "no budget this year"
    assert assessed.progress_due_at == NOW + timedelta(days=30)  # progress noted: restarted
    (event,) = repo.events
    assert event.type == "crm.quoting.opportunity_assessed"
    assert (event.data["cadence"], event.data["reason"], event.data["fit"]) == (
        "OBSERVATION",
        "LOW_FIT",
        "LOW",
    )
    assert event.key == "c1"


async def test_a_closed_opportunity_is_not_assessed_and_an_analyst_may_not() -> None:
    closed = FakeOpportunities(_opportunity(stage=OpportunityStage.LOST))
    with pytest.raises(BadUserInput) as exc:
        await _service(closed, "sales_rep").assess(
            AssessOpportunityCommand("o1", Fit.HIGH, Engagement.PROACTIVE)
        )
    assert exc.value.field == "input.id"
    assert closed.events == []
    with pytest.raises(Forbidden):
        await _service(FakeOpportunities(_opportunity()), "analyst").assess(
            AssessOpportunityCommand("o1", Fit.HIGH, Engagement.PROACTIVE)
        )
