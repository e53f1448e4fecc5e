"""Churn and complaint rates, activity effectiveness, improvement tasks, CSAT per channel, and
their projections (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_common.events.contracts.customer import CustomerState, CustomerStatusChanged
from crm_common.events.contracts.engagement import ActivityAttended, FollowUpScheduled
from crm_common.events.contracts.servicedesk import (
    ImprovementTaskClosed,
    ImprovementTaskOpened,
    SurveyResponded,
)
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.service_reports import (
    CustomerAfter,
    Registration,
    activity_effectiveness,
    churn_rate,
    complaint_rate,
    csat_by_channel,
    improvement_task_status,
)
from crm_insights.service.ports import Fact
from crm_insights.service.projections import SUBSCRIBED_TOPICS, project

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_churn_rate_counts_the_base_at_each_periods_start() -> None:
    created = {"2026-09": 10, "2026-10": 5, "2026-11": 5}
    moves = {
        ("2026-10", "DEAL", "CHURNED"): 2,
        ("2026-11", "LEAD", "CHURNED"): 3,
        ("2026-11", "CHURNED", "INTENTION"): 1,
    }
    report = churn_rate(created, moves, "2026-10", None)
    assert [(r.period, r.customers_at_start, r.churned, r.recovered) for r in report.rows] == [
        ("2026-10", 10, 2, 0),
        ("2026-11", 13, 3, 1),  # 15 created before November, 2 of them churned
    ]
    assert report.rows[0].churn_rate == 0.2
    assert report.churned == 5 and report.overall_rate == 0.5
    assert report.csv().splitlines()[0] == (
        "period,customers_at_start,churned,recovered,churn_rate"
    )
    assert churn_rate({}, {}, None, None).overall_rate is None


def test_complaint_rate_per_period() -> None:
    report = complaint_rate(
        {("2026-10", "COMPLAINT"): 1, ("2026-10", "INCIDENT"): 3, ("2026-11", "QUESTION"): 2},
        {"2026-10": 1},
    )
    assert [(r.period, r.tickets, r.complaints, r.complaint_rate) for r in report.rows] == [
        ("2026-10", 4, 1, 0.25),
        ("2026-11", 2, 0, 0.0),
    ]
    assert report.complaint_rate == round(1 / 6, 4)


def test_activity_effectiveness_counts_what_follows_attendance_within_the_window() -> None:
    registrations = [
        Registration("a1", "Expo", "EXHIBITION", "c1", T0),
        Registration("a1", "Expo", "EXHIBITION", "c2", T0),
        Registration("a1", "Expo", "EXHIBITION", "c3", None),  # registered, did not come
        Registration("a2", "Webinar", "WEBINAR", "c4", T0),
    ]
    after = {
        "c1": CustomerAfter(
            followups=(T0 + timedelta(days=1),),
            opportunities=(T0 + timedelta(days=5),),
            deals=(T0 + timedelta(days=20),),
        ),
        # Before attending, and long after: neither counts.
        "c2": CustomerAfter(followups=(T0 - timedelta(days=1), T0 + timedelta(days=60))),
    }
    report = activity_effectiveness(registrations, after, 30)
    expo = next(r for r in report.activities if r.activity_id == "a1")
    assert (expo.registered, expo.attended, expo.followed_up, expo.opportunities, expo.deals) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert expo.attendance_rate == round(2 / 3, 4) and expo.follow_up_rate == 0.5
    assert report.activities[0].activity_id == "a1"  # most attended first
    assert (report.total.registered, report.total.attended, report.total.deals) == (4, 3, 1)
    assert activity_effectiveness(registrations, after, 10).total.deals == 0


def test_improvement_task_status_per_team() -> None:
    report = improvement_task_status(
        {
            ("support", "OPEN"): 2,
            ("support", "IN_PROGRESS"): 1,
            ("support", "DONE"): 4,
            ("", "CANCELLED"): 1,
        },
        {"support": 1},
        {"support": 1},
    )
    support = next(r for r in report.teams if r.team == "support")
    assert (support.open, support.overdue, support.done, support.closed_late) == (3, 1, 4, 1)
    assert support.on_time_rate == 0.75
    assert [r.team for r in report.teams] == ["(no team)", "support"]
    assert (report.total.open, report.total.cancelled) == (3, 1)


def test_csat_by_channel_counts_older_answers_as_link() -> None:
    report = csat_by_channel(
        {"": 1, "LINK": 1, "PHONE": 1},
        {"": 3, "LINK": 3, "PHONE": 3},
        {"": 15, "LINK": 9, "PHONE": 6},
        {"": 3, "LINK": 1, "PHONE": 0},
    )
    link, phone = report.channels
    assert (link.channel, link.surveys_answered, link.average_score, link.csat) == (
        "LINK",
        2,
        4.0,
        round(4 / 6, 4),
    )
    assert (phone.channel, phone.average_score, phone.csat) == ("PHONE", 2.0, 0.0)


def _event(payload: object, event_id: str = "e1") -> CloudEvent:
    return CloudEvent(
        id=event_id,
        type=payload.event_type,  # type: ignore[attr-defined]
        source="test",
        time=T0,
        tenant_id="acme",
        key="c1",
        data=payload.model_dump(mode="json"),  # type: ignore[attr-defined]
    )


def test_the_report_models_are_projected_next_to_the_main_ones() -> None:
    attended = ActivityAttended(
        activity_id="a1",
        registration_id="r1",
        customer_id="c1",
        activity_kind="WEBINAR",
        attended_at=T0,
    )
    projection = project(_event(attended), attended)
    assert projection is not None
    assert {c.fact for c in projection.changes} == {Fact.ACTIVITIES, Fact.REGISTRATIONS}
    assert projection.dirty == ("c1",)  # the main projector's part is kept

    scheduled = FollowUpScheduled(
        followup_id="f1",
        customer_id="c1",
        assignee_id="u",
        type="CALL",
        priority="HIGH",
        goal="g",
        due_at=T0,
        origin="MANUAL",
        created_by="u",
    )
    projection = project(_event(scheduled), scheduled)
    assert projection is not None
    assert projection.changes[-1].values == {"scheduled_at": T0}

    churned = CustomerStatusChanged(
        customer_id="c1", from_status="DEAL", to_status="CHURNED", actor_id="u", changed_at=T0
    )
    projection = project(_event(churned, "ev-9"), churned)
    assert projection is not None
    change = projection.changes[-1]
    assert (change.fact, change.id) == (Fact.STATUS_CHANGES, "ev-9")
    assert change.values is not None and change.values["changed_month"] == "2026-11"

    phone = SurveyResponded(
        survey_id="s1",
        customer_id="c1",
        subject_type="TICKET",
        subject_id="k",
        scores={"q": 2},
        responded_at=T0,
        channel="PHONE",
        recorded_by="agent",
    )
    projection = project(_event(phone), phone)
    assert projection is not None
    assert projection.changes[-1].values == {"channel": "PHONE", "satisfied_count": 0}

    opened = ImprovementTaskOpened(
        task_id="t1",
        customer_id="c1",
        team="support",
        owner_id="u",
        title="x",
        source="SURVEY",
        source_id="s1",
        due_at=T0,
        opened_by="system",
        opened_at=T0,
    )
    closed = ImprovementTaskClosed(
        task_id="t1",
        customer_id="c1",
        team="support",
        owner_id="u",
        status="DONE",
        due_at=T0,
        overdue=True,
        actor_id="u",
        closed_at=T0 + timedelta(days=1),
    )
    for payload in (opened, closed):
        result = project(_event(payload), payload)
        assert result is not None and result.changes[0].fact is Fact.IMPROVEMENT_TASKS
    closed_change = project(_event(closed), closed).changes[0]  # type: ignore[union-attr]
    assert closed_change.guarded is not None
    at, state = closed_change.guarded["state"]
    assert at == closed.closed_at and state["status"] == "DONE" and state["closed_late"] is True
    assert "crm.servicedesk.v1" in SUBSCRIBED_TOPICS


def test_a_status_change_carries_the_type_that_follows_the_lifecycle() -> None:
    won = CustomerStatusChanged(
        customer_id="c1",
        from_status="INTENTION",
        to_status="DEAL",
        actor_id="u",
        changed_at=T0,
        state=CustomerState(
            version=3,
            number="CUS20261101001",
            name="Won Co",
            status="DEAL",
            owner_id="rep",
            team="north",
            customer_type="DEAL",
            updated_at=T0,
        ),
    )
    projection = project(_event(won), won)
    assert projection is not None
    status = projection.changes[0]
    assert status.fact == Fact.CUSTOMERS and status.guarded is not None
    assert status.guarded["status"] == (T0, {"status": "DEAL", "customer_type": "DEAL"})
    # Older events (no state) move the status only.
    bare = won.model_copy(update={"state": None})
    first = project(_event(bare, "e2"), bare)
    assert first is not None and first.changes[0].guarded == {"status": (T0, {"status": "DEAL"})}
