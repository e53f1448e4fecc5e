"""The customer's follow-up cadence adapts the proposed follow-up interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_engagement.domain.cadence import cadence_interval
from crm_engagement.domain.followup import EngagementSettings, Priority, propose_next

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_intensive_halves_observation_doubles_normal_keeps() -> None:
    week = timedelta(days=14)
    assert cadence_interval(week, "INTENSIVE") == timedelta(days=7)
    assert cadence_interval(week, "OBSERVATION") == timedelta(days=28)
    assert cadence_interval(week, "NORMAL") == week
    assert cadence_interval(week, None) == week
    assert cadence_interval(timedelta(days=1), "INTENSIVE") == timedelta(days=1)
    assert cadence_interval(timedelta(days=300), "OBSERVATION") == timedelta(days=365)


def test_the_proposal_uses_the_cadence() -> None:
    settings = EngagementSettings()
    last = NOW - timedelta(days=1)
    normal = propose_next("c1", Priority.MEDIUM, last, NOW, settings)
    observed = propose_next("c1", Priority.MEDIUM, last, NOW, settings, cadence="OBSERVATION")
    intensive = propose_next("c1", Priority.MEDIUM, last, NOW, settings, cadence="INTENSIVE")
    assert normal.due_at == last + timedelta(days=14)
    assert observed.due_at == last + timedelta(days=28)
    assert intensive.due_at == last + timedelta(days=7)
    assert (observed.cadence, normal.cadence) == ("OBSERVATION", None)
