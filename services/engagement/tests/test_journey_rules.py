"""Issue 17 rules of engagement, pure: the care plan after a deal, planned touches per
segment, follow-up participants, the 24-hour rules, attendance filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import BadUserInput, Conflict
from crm_common.events.contracts.engagement import FollowUpDue
from crm_engagement.domain.activity import ActivityKind, Attendance, check_attendance_filter
from crm_engagement.domain.care import (
    WITHDRAWN_CHURNED,
    CampaignProgress,
    CarePlan,
    CarePlanSettings,
    Segment,
    TouchKind,
    campaign_progress,
    clean_segment,
    is_last_of_round,
    next_round,
    plan_id,
    plan_round,
    round_of,
    touch_goal,
    touch_id,
    validate_care_settings,
    validate_touch,
    visit_id,
    visit_tasks,
    withdrawal_reason,
    withdraws,
)
from crm_engagement.domain.followup import (
    EngagementSettings,
    FollowUp,
    FollowUpOrigin,
    FollowUpStatus,
    FollowUpType,
    Priority,
    changed_participants,
    clean_participant_ids,
    participates,
)
from crm_engagement.domain.interaction import CustomerRef
from crm_engagement.domain.notification import NotificationKind, drafts_for
from crm_engagement.domain.timeliness import (
    ContactTimeliness,
    RepTimeliness,
    contact_timeliness,
    is_late_entry,
    validate_period,
)

DEAL = datetime(2026, 1, 1, 9, tzinfo=UTC)


def _days(visits: list[object]) -> list[int]:
    return [(v.due_at - DEAL).days for v in visits]  # type: ignore[attr-defined]


# --- the care plan -----------------------------------------------------------------------


def test_default_plan_weekly_in_the_first_month_then_quarterly_for_a_year() -> None:
    first = plan_round(DEAL, CarePlanSettings(), 1)
    assert _days(first) == [7, 14, 21, 28, 121, 212, 303]
    assert [v.seq for v in first] == list(range(1, 8))
    assert [v.phase for v in first[:4]] == ["first_month"] * 4
    assert {v.phase for v in first[4:]} == {"regular"}


def test_the_next_round_continues_the_numbers_and_the_quarterly_rhythm() -> None:
    second = plan_round(DEAL, CarePlanSettings(), 2)
    assert _days(second) == [394, 485, 576, 667]
    assert [v.seq for v in second] == [8, 9, 10, 11]


def test_tenant_settings_shape_the_plan() -> None:
    monthly = CarePlanSettings(weekly_interval_days=14, first_phase_days=60, later_interval_days=30,
                               horizon_days=180)  # fmt: skip
    assert _days(plan_round(DEAL, monthly, 1)) == [14, 28, 42, 56, 90, 120, 150, 180]
    no_first_phase = CarePlanSettings(first_phase_days=0)
    assert _days(plan_round(DEAL, no_first_phase, 1)) == [91, 182, 273, 364]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekly_interval_days": 0}, "input.weeklyIntervalDays"),
        ({"later_interval_days": 400}, "input.laterIntervalDays"),
        ({"horizon_days": 10}, "input.horizonDays"),
        ({"first_phase_days": 400, "horizon_days": 365}, "input.firstPhaseDays"),
    ],
)
def test_bad_care_settings_name_the_field(change: dict[str, int], field: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        validate_care_settings(CarePlanSettings(**change))  # type: ignore[arg-type]
    assert raised.value.field == field


def _plan(**kw: object) -> CarePlan:
    values: dict[str, object] = {
        "id": plan_id("t", "c1", "evt-1"),
        "tenant_id": "t",
        "customer_id": "c1",
        "owner_id": "rep-1",
        "customer_name": "Acme",
        "deal_at": DEAL,
        "settings": CarePlanSettings(),
        "created_at": DEAL,
        **kw,
    }
    return CarePlan(**values)  # type: ignore[arg-type]


def test_visit_ids_derive_from_plan_and_number_so_a_redelivery_makes_the_same() -> None:
    assert plan_id("t", "c1", "evt-1") == plan_id("t", "c1", "evt-1") != plan_id("t", "c1", "e2")
    plan = _plan()
    once = visit_tasks(plan, 1, EngagementSettings(), DEAL)
    again = visit_tasks(plan, 1, EngagementSettings(), DEAL + timedelta(hours=1))
    assert [t.id for t in once] == [t.id for t in again]
    assert once[0].id == visit_id("t", plan.id, 1)
    task = once[0]
    assert task.assignee_id == "rep-1" and task.type is FollowUpType.VISIT
    assert task.origin is FollowUpOrigin.CARE_PLAN and task.origin_event_id == plan.id
    assert task.remind_at == task.due_at - timedelta(minutes=60)
    assert "Acme" in task.goal


def test_visits_already_due_are_left_out_and_rounds_are_found_by_due_time() -> None:
    plan = _plan()
    late = visit_tasks(plan, 1, EngagementSettings(), DEAL + timedelta(days=20))
    assert _days(late) == [21, 28, 121, 212, 303]
    visits = plan_round(DEAL, CarePlanSettings(), 1)
    assert round_of(plan, visits[0].due_at) == 1
    assert round_of(plan, visits[-1].due_at) == 1
    assert round_of(plan, plan_round(DEAL, CarePlanSettings(), 2)[0].due_at) == 2
    assert is_last_of_round(plan, visits[-1].due_at)
    assert not is_last_of_round(plan, visits[-2].due_at)


def test_the_next_round_skips_rounds_without_visits() -> None:
    short = _plan(settings=CarePlanSettings(horizon_days=30, later_interval_days=91))
    assert _days(plan_round(DEAL, short.settings, 1)) == [7, 14, 21, 28]
    assert plan_round(DEAL, short.settings, 2) == []
    assert next_round(short, 1) == 5  # day 121 lies in (120, 150]
    assert _days(plan_round(DEAL, short.settings, 5)) == [121]


def test_a_deal_lost_withdraws_the_care_with_a_reason_other_moves_do_not() -> None:
    assert withdrawal_reason("DEAL", "CHURNED") == WITHDRAWN_CHURNED == "customer churned"
    assert withdrawal_reason("INTENTION", "CHURNED") == WITHDRAWN_CHURNED
    assert withdrawal_reason("INTENTION", "DEAL") is None
    assert withdrawal_reason("CHURNED", "INTENTION") is None
    assert withdrawal_reason("CHURNED", "CHURNED") is None  # nothing left to withdraw


def test_a_loss_withdraws_the_plans_made_before_it_not_a_later_deal() -> None:
    first = _plan()
    churned_at = DEAL + timedelta(days=40)
    assert not first.withdrawn and withdraws(first, churned_at)
    # A deal again later: another deal event, another plan, untouched by the older loss.
    again = _plan(id=plan_id("t", "c1", "evt-2"), deal_at=DEAL + timedelta(days=90))
    assert again.id != first.id and not withdraws(again, churned_at)
    assert {t.id for t in visit_tasks(first, 1, EngagementSettings(), DEAL)}.isdisjoint(
        t.id for t in visit_tasks(again, 1, EngagementSettings(), DEAL)
    )
    assert _plan(withdrawn_at=churned_at, withdrawn_reason=WITHDRAWN_CHURNED).withdrawn


# --- planned touches --------------------------------------------------------------------------


def test_segments_are_trimmed_deduplicated_and_types_upper_cased() -> None:
    segment = clean_segment(Segment(customer_types=("deal", "DEAL "), teams=("east", "east")))
    assert segment.customer_types == ("DEAL",) and segment.teams == ("east",)
    with pytest.raises(BadUserInput) as raised:
        clean_segment(Segment(statuses=("",)))
    assert raised.value.field == "input.segment.statuses"


def test_segment_regions_are_spelled_canonically_industries_and_tags_kept() -> None:
    segment = clean_segment(
        Segment(regions=("zhejiang", "浙江", " Guangdong Province "), industries=("制造业",),
                tags=(" vip ", "vip", "expo"))
    )  # fmt: skip
    assert segment.regions == ("浙江省", "广东省")
    assert segment.industries == ("制造业",) and segment.tags == ("vip", "expo")
    with pytest.raises(BadUserInput) as raised:
        clean_segment(Segment(regions=("Atlantis",)))
    assert raised.value.field == "input.segment.regions"
    with pytest.raises(BadUserInput) as blank:
        clean_segment(Segment(tags=(" ",)))
    assert blank.value.field == "input.segment.tags"
    # Stored with the campaign and read back as it was.
    assert Segment.from_document(segment.as_document()) == segment
    assert Segment.from_document({"statuses": ["DEAL"]}) == Segment(statuses=("DEAL",))


def test_campaign_progress_counts_its_follow_ups_by_status() -> None:
    assert campaign_progress({}) == CampaignProgress()
    progress = campaign_progress({"open": 3, "overdue": 1, "done": 4, "cancelled": 2})
    assert progress == CampaignProgress(planned=10, open=4, overdue=1, done=4, cancelled=2)
    assert progress.planned == progress.open + progress.done + progress.cancelled


def test_touches_are_validated_and_keyed_by_campaign_and_customer() -> None:
    now = DEAL
    with pytest.raises(BadUserInput) as raised:
        validate_touch(title=" ", message=None, due_at=now, now=now)
    assert raised.value.field == "input.title"
    with pytest.raises(BadUserInput):
        validate_touch(title="x", message=None, due_at=now - timedelta(days=1), now=now)
    assert touch_id("t", "camp", "c1") == touch_id("t", "camp", "c1") != touch_id("t", "camp", "c2")
    goal = touch_goal(TouchKind.HOLIDAY_CARE, "Spring Festival", "新春快乐")
    assert goal.startswith("Holiday care: Spring Festival") and "新春快乐" in goal


# --- follow-up participants -------------------------------------------------------------------


def _task(**kw: object) -> FollowUp:
    values: dict[str, object] = {
        "id": "f1",
        "tenant_id": "t",
        "customer_id": "c1",
        "type": FollowUpType.VISIT,
        "due_at": DEAL,
        "remind_at": DEAL,
        "priority": Priority.MEDIUM,
        "goal": "visit",
        "assignee_id": "alice",
        "status": FollowUpStatus.OPEN,
        "created_by": "alice",
        "created_at": DEAL,
        **kw,
    }
    return FollowUp(**values)  # type: ignore[arg-type]


def test_participant_ids_are_cleaned_without_the_assignee() -> None:
    assert clean_participant_ids([" carol", "carol", "alice", "dave"], "alice") == (
        "carol",
        "dave",
    )
    with pytest.raises(BadUserInput) as raised:
        clean_participant_ids(["two words"], "alice")
    assert raised.value.field == "input.participantIds"
    with pytest.raises(BadUserInput):
        clean_participant_ids([f"u{i}" for i in range(21)], "alice")


def test_adding_and_removing_participants() -> None:
    task = _task(participant_ids=("carol",))
    new, added, removed = changed_participants(task, ["dave", "carol"], ["carol"])
    assert (new, added, removed) == (("dave",), ["dave"], ["carol"])
    assert participates(task, "carol") and participates(task, "alice")
    assert not participates(task, "dave")
    with pytest.raises(BadUserInput):
        changed_participants(task, [], [])
    with pytest.raises(Conflict):
        changed_participants(_task(status=FollowUpStatus.DONE), ["dave"], [])


def test_participants_are_reminded_with_no_customer_on_their_copy() -> None:
    due = FollowUpDue(
        followup_id="f1",
        customer_id="c1",
        assignee_id="alice",
        priority="medium",
        goal="Joint visit",
        due_at=DEAL,
        participant_ids=["carol", "alice", "carol"],
    )
    customer = CustomerRef(id="c1", tenant_id="t", name="Acme", owner_id="alice")
    drafts = drafts_for("e1", DEAL, due, customer)
    assert [(d.recipient, d.customer_id) for d in drafts] == [
        ("user:alice", "c1"),
        ("user:carol", None),
    ]
    assert {d.kind for d in drafts} == {NotificationKind.FOLLOWUP_DUE}
    assert all(d.record_id == "f1" for d in drafts)


# --- the 24-hour rules ------------------------------------------------------------------------


def test_an_entry_more_than_24_hours_after_the_fact_is_late() -> None:
    assert not is_late_entry(DEAL, DEAL + timedelta(hours=24))
    assert is_late_entry(DEAL, DEAL + timedelta(hours=24, seconds=1))
    assert not is_late_entry(DEAL, DEAL)


def test_contact_registration_against_the_first_touch() -> None:
    touch = DEAL
    later = DEAL + timedelta(days=3)
    assert contact_timeliness(touch, DEAL - timedelta(days=1), later) is ContactTimeliness.ON_TIME
    assert contact_timeliness(touch, DEAL + timedelta(hours=23), later) is ContactTimeliness.ON_TIME
    assert contact_timeliness(touch, DEAL + timedelta(hours=25), later) is ContactTimeliness.LATE
    assert contact_timeliness(touch, None, later) is ContactTimeliness.MISSING
    assert contact_timeliness(touch, None, DEAL + timedelta(hours=2)) is ContactTimeliness.PENDING
    row = RepTimeliness("rep")
    row.count_contact(ContactTimeliness.LATE)
    row.count_contact(ContactTimeliness.MISSING)
    assert (row.contacts_late, row.contacts_missing, row.contacts_on_time) == (1, 1, 0)


def test_report_periods_are_bounded() -> None:
    with pytest.raises(BadUserInput) as raised:
        validate_period(DEAL, DEAL - timedelta(days=1))
    assert raised.value.field == "period.from"
    with pytest.raises(BadUserInput):
        validate_period(DEAL, DEAL + timedelta(days=400))


# --- attendance filters -----------------------------------------------------------------------


def test_attendance_filter_values() -> None:
    assert Attendance.REGISTERED.attended_value == "any"
    assert Attendance.ATTENDED.attended_value is True
    assert Attendance.NO_SHOW.attended_value is False
    assert Attendance.PENDING.attended_value is None
    check_attendance_filter("a1", None)
    check_attendance_filter(None, ActivityKind.WEBINAR)
    for activity, kind in (("a1", ActivityKind.EVENT), (None, None)):
        with pytest.raises(BadUserInput):
            check_attendance_filter(activity, kind)
