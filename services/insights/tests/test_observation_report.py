"""The observation report counts per team and reason; the projection keeps the newest cadence."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_common.events.contracts.customer_cadence import CustomerCadenceChanged
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.observation import ObservationCount, observation_report
from crm_insights.service.ports import Fact
from crm_insights.service.projections import PROJECTORS


def test_counts_per_team_and_reason_largest_first() -> None:
    report = observation_report(
        [
            {"team": "north", "cadence_reason": "LOW_FIT"},
            {"team": "north", "cadence_reason": "NO_PROGRESS"},
            {"team": "north", "cadence_reason": "LOW_FIT"},
            {"team": None, "cadence_reason": "MANUAL"},
        ]
    )
    assert report.total == 4
    assert report.rows == (
        ObservationCount("north", "LOW_FIT", 2),
        ObservationCount(None, "MANUAL", 1),
        ObservationCount("north", "NO_PROGRESS", 1),
    )


def test_the_cadence_is_guarded_state_on_the_customer_fact() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    payload = CustomerCadenceChanged(
        customer_id="c1",
        owner_id="rita",
        team="north",
        cadence="OBSERVATION",
        previous_cadence="NORMAL",
        reason="NO_PROGRESS",
        source="STALL",
        actor_id="system:quoting",
        changed_at=at,
    )
    envelope = CloudEvent.new(payload, source="crm/customer", tenant_id="t1", key="c1")
    projection = PROJECTORS[CustomerCadenceChanged](envelope, payload)
    (change,) = projection.changes
    assert (change.fact, change.id) == (Fact.CUSTOMERS, "c1")
    assert change.guarded == {
        "cadence": (at, {"cadence": "OBSERVATION", "cadence_reason": "NO_PROGRESS"})
    }
