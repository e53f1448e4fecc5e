"""Read models behind the service and effectiveness reports (churn rate, complaint rate,
activity effectiveness, improvement tasks, CSAT per channel).

They ride next to `projections.PROJECTORS`: for an event type listed here the changes below are
added to whatever the main projector makes of it. Same rules as there — facts are set, state is
guarded by the event's own time, nothing is incremented — so a redelivered event changes nothing
and a replay of the topics rebuilds the same documents.

- ``activity_registrations``: one per registration (registered, then attended);
- ``status_changes``: one per ``customer.status_changed`` event (id = event id), so the number
  of churned customers at any moment can be counted back;
- ``improvement_tasks``: one per task (state guarded by the time of its latest event);
- and two fields on existing facts: ``followups.scheduled_at`` (the event's time) and
  ``surveys.channel`` (LINK or PHONE) with ``surveys.satisfied_count`` (scores of 4-5).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from crm_common.events.contracts import customer as c
from crm_common.events.contracts import engagement as e
from crm_common.events.contracts import servicedesk as s
from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.periods import bucket_fields
from crm_insights.domain.reports import SATISFIED_SCORE
from crm_insights.service.ports import Fact, FactChange

# Each gets the tenant's time zone: the period keys it writes are the tenant's local periods.
ExtraProjector = Callable[[CloudEvent, Any, tzinfo], tuple[FactChange, ...]]


def _registered(_: CloudEvent, p: e.ActivityRegistered, zone: tzinfo) -> tuple[FactChange, ...]:
    return (
        FactChange(
            Fact.REGISTRATIONS,
            p.registration_id,
            values={
                "customer_id": p.customer_id,
                "activity_id": p.activity_id,
                "activity_kind": p.activity_kind,
                "title": p.title,
                "starts_at": p.starts_at,
                "registered_at": p.registered_at,
            },
        ),
    )


def _attended(_: CloudEvent, p: e.ActivityAttended, zone: tzinfo) -> tuple[FactChange, ...]:
    return (
        FactChange(
            Fact.REGISTRATIONS,
            p.registration_id,
            values={
                "customer_id": p.customer_id,
                "activity_id": p.activity_id,
                "activity_kind": p.activity_kind,
                "attended_at": p.attended_at,
            },
        ),
    )


def _followup_scheduled(
    event: CloudEvent, p: e.FollowUpScheduled, zone: tzinfo
) -> tuple[FactChange, ...]:
    # The contract has no creation time: the event's own time is when it was scheduled.
    return (FactChange(Fact.FOLLOWUPS, p.followup_id, values={"scheduled_at": event.time}),)


def _status_changed(
    event: CloudEvent, p: c.CustomerStatusChanged, zone: tzinfo
) -> tuple[FactChange, ...]:
    return (
        FactChange(
            Fact.STATUS_CHANGES,
            event.id,
            values={
                "customer_id": p.customer_id,
                "from_status": p.from_status,
                "to_status": p.to_status,
                "changed_at": p.changed_at,
                **bucket_fields("changed", p.changed_at, zone),
            },
        ),
    )


def _survey_channel(_: CloudEvent, p: s.SurveyResponded, zone: tzinfo) -> tuple[FactChange, ...]:
    satisfied = sum(1 for v in p.scores.values() if v >= SATISFIED_SCORE)
    return (
        FactChange(
            Fact.SURVEYS,
            p.survey_id,
            values={"channel": p.channel or "LINK", "satisfied_count": satisfied},
        ),
    )


def _task_state(p: s._ImprovementTaskEvent, **state: Any) -> dict[str, Any]:
    return {"team": p.team, "owner_id": p.owner_id, **state}


def _task_opened(_: CloudEvent, p: s.ImprovementTaskOpened, zone: tzinfo) -> tuple[FactChange, ...]:
    return (
        FactChange(
            Fact.IMPROVEMENT_TASKS,
            p.task_id,
            values={
                "customer_id": p.customer_id,
                "source": p.source,
                "source_id": p.source_id,
                "opened_at": p.opened_at,
                **bucket_fields("opened", p.opened_at, zone),
            },
            guarded={"state": (p.opened_at, _task_state(p, status="OPEN", due_at=p.due_at))},
        ),
    )


def _task_updated(
    _: CloudEvent, p: s.ImprovementTaskUpdated, zone: tzinfo
) -> tuple[FactChange, ...]:
    return (
        FactChange(
            Fact.IMPROVEMENT_TASKS,
            p.task_id,
            values={"customer_id": p.customer_id},
            guarded={"state": (p.updated_at, _task_state(p, status=p.status, due_at=p.due_at))},
        ),
    )


def _task_closed(_: CloudEvent, p: s.ImprovementTaskClosed, zone: tzinfo) -> tuple[FactChange, ...]:
    state = _task_state(
        p,
        status=p.status,
        due_at=p.due_at,
        closed_at=p.closed_at,
        closed_late=p.overdue,
        **bucket_fields("closed", p.closed_at, zone),
    )
    return (
        FactChange(
            Fact.IMPROVEMENT_TASKS,
            p.task_id,
            values={"customer_id": p.customer_id},
            guarded={"state": (p.closed_at, state)},
        ),
    )


def _task_overdue(
    _: CloudEvent, p: s.ImprovementTaskOverdue, zone: tzinfo
) -> tuple[FactChange, ...]:
    return (
        FactChange(
            Fact.IMPROVEMENT_TASKS,
            p.task_id,
            values={"customer_id": p.customer_id, "reported_overdue": True},
        ),
    )


EXTRA_PROJECTORS: dict[type[EventData], ExtraProjector] = {
    e.ActivityRegistered: _registered,
    e.ActivityAttended: _attended,
    e.FollowUpScheduled: _followup_scheduled,
    c.CustomerStatusChanged: _status_changed,
    s.SurveyResponded: _survey_channel,
    s.ImprovementTaskOpened: _task_opened,
    s.ImprovementTaskUpdated: _task_updated,
    s.ImprovementTaskClosed: _task_closed,
    s.ImprovementTaskOverdue: _task_overdue,
}
