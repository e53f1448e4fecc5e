"""Follow-up tasks, their reminders and the cadence that proposes the next one. Pure.

A task is reminded twice at most: ``followup.due`` when its reminder time arrives (the due time
minus the tenant's lead) and ``followup.overdue`` when the due time passes while it is still
open. Each is claimed once, by whichever replica's conditional update wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput, Conflict
from crm_engagement.domain.cadence import cadence_interval
from crm_engagement.domain.interaction import SUMMARY_MAX, as_utc

GOAL_MAX = 1_000
# A follow-up is planned ahead; a due time a little in the past is a clock skew, not a plan.
PAST_TOLERANCE = timedelta(minutes=5)


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FollowUpStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    DONE = "done"
    CANCELLED = "cancelled"


class FollowUpType(StrEnum):
    PHONE_CALL = "phone_call"
    VISIT = "visit"
    EMAIL = "email"
    MEETING = "meeting"
    CHAT = "chat"


class FollowUpOrigin(StrEnum):
    MANUAL = "manual"
    CADENCE = "cadence"
    CHURN_RISK = "churn_risk"
    CARE_PLAN = "care_plan"  # a visit of the long-term care plan after a deal (domain.care)
    HOLIDAY_CARE = "holiday_care"  # a planned holiday greeting for a segment (domain.care)
    CONTENT_PUSH = "content_push"  # planned industry news / upgrade notes for a segment


ACTIVE = (FollowUpStatus.OPEN, FollowUpStatus.OVERDUE)


@dataclass(frozen=True, slots=True)
class FollowUp:
    id: str
    tenant_id: str
    customer_id: str
    type: FollowUpType
    due_at: datetime
    remind_at: datetime
    priority: Priority
    goal: str
    assignee_id: str
    status: FollowUpStatus
    created_by: str
    created_at: datetime
    origin: FollowUpOrigin = FollowUpOrigin.MANUAL
    origin_event_id: str | None = None
    completed_at: datetime | None = None
    outcome: str | None = None
    interaction_id: str | None = None
    # Colleagues who join (user ids): they see the task and are reminded with the assignee.
    participant_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EngagementSettings:
    """Per-tenant knobs (an admin changes them); the defaults are the product's policy."""

    high_interval_days: int = 7
    medium_interval_days: int = 14
    low_interval_days: int = 30
    edit_grace_minutes: int = 30
    reminder_lead_minutes: int = 60

    def interval(self, priority: Priority) -> timedelta:
        days = {
            Priority.HIGH: self.high_interval_days,
            Priority.MEDIUM: self.medium_interval_days,
            Priority.LOW: self.low_interval_days,
        }[priority]
        return timedelta(days=days)

    @property
    def edit_grace(self) -> timedelta:
        return timedelta(minutes=self.edit_grace_minutes)

    @property
    def reminder_lead(self) -> timedelta:
        return timedelta(minutes=self.reminder_lead_minutes)


def validate_settings(settings: EngagementSettings) -> None:
    for name, value in (
        ("highIntervalDays", settings.high_interval_days),
        ("mediumIntervalDays", settings.medium_interval_days),
        ("lowIntervalDays", settings.low_interval_days),
    ):
        if not 1 <= value <= 365:
            raise BadUserInput(f"{name} must be between 1 and 365", field=f"input.{name}")
    for name, value in (
        ("editGraceMinutes", settings.edit_grace_minutes),
        ("reminderLeadMinutes", settings.reminder_lead_minutes),
    ):
        if not 0 <= value <= 7 * 24 * 60:
            raise BadUserInput(f"{name} must be between 0 and 10080", field=f"input.{name}")


@dataclass(frozen=True, slots=True)
class CadenceProposal:
    customer_id: str
    priority: Priority
    interval: timedelta
    due_at: datetime
    based_on: datetime | None = field(default=None)
    cadence: str | None = None  # the customer's follow-up cadence, if one was heard of


def propose_next(
    customer_id: str,
    priority: Priority,
    last_interaction_at: datetime | None,
    now: datetime,
    settings: EngagementSettings,
    cadence: str | None = None,
) -> CadenceProposal:
    """The next touch: the priority's interval (adapted to the customer's follow-up cadence,
    `domain.cadence`) after the last one, and never in the past."""
    interval = cadence_interval(settings.interval(priority), cadence)
    base = as_utc(last_interaction_at) if last_interaction_at else now
    return CadenceProposal(
        customer_id=customer_id,
        priority=priority,
        interval=interval,
        due_at=max(base + interval, now),
        based_on=last_interaction_at,
        cadence=cadence,
    )


def validate_followup(*, goal: str, due_at: datetime, now: datetime) -> None:
    if not goal.strip() or len(goal) > GOAL_MAX:
        raise BadUserInput(f"goal must be 1-{GOAL_MAX} characters", field="input.goal")
    if as_utc(due_at) < now - PAST_TOLERANCE:
        raise BadUserInput("dueAt must not be in the past", field="input.dueAt")


def remind_time(due_at: datetime, settings: EngagementSettings) -> datetime:
    return as_utc(due_at) - settings.reminder_lead


def check_completable(task: FollowUp, outcome: str) -> None:
    if task.status not in ACTIVE:
        raise Conflict(f"the follow-up is already {task.status.value}", field="input.id")
    if not outcome.strip() or len(outcome) > SUMMARY_MAX:
        raise BadUserInput(f"outcome must be 1-{SUMMARY_MAX} characters", field="input.outcome")


def check_cancellable(task: FollowUp) -> None:
    if task.status not in ACTIVE:
        raise Conflict(f"the follow-up is already {task.status.value}", field="input.id")


def retention_goal(score: int, drivers: list[str]) -> str:
    reasons = ", ".join(drivers) if drivers else "no drivers given"
    return f"Retention: churn risk score {score} ({reasons})"[:GOAL_MAX]


PARTICIPANTS_MAX = 20
USER_ID_MAX = 200


def clean_participant_ids(
    ids: list[str] | tuple[str, ...], assignee_id: str, field: str = "input.participantIds"
) -> tuple[str, ...]:
    """Trimmed, deduplicated user ids in the order given, without the assignee (who is in it
    anyway). No user directory exists here (users live in the identity provider), so any
    well-formed id is accepted; at most `PARTICIPANTS_MAX`."""
    cleaned: list[str] = []
    for raw in ids:
        user_id = raw.strip()
        if not user_id or len(user_id) > USER_ID_MAX or any(c.isspace() for c in user_id):
            raise BadUserInput(
                f"participant ids must be user ids (1-{USER_ID_MAX} characters, no spaces)",
                field=field,
            )
        if user_id != assignee_id and user_id not in cleaned:
            cleaned.append(user_id)
    if len(cleaned) > PARTICIPANTS_MAX:
        raise BadUserInput(f"at most {PARTICIPANTS_MAX} participants", field=field)
    return tuple(cleaned)


def changed_participants(
    task: FollowUp, add: list[str], remove: list[str]
) -> tuple[tuple[str, ...], list[str], list[str]]:
    """The new participant set after adding and removing: (new set, added, removed)."""
    if task.status not in ACTIVE:
        raise Conflict(f"the follow-up is already {task.status.value}", field="input.id")
    adding = clean_participant_ids(add, task.assignee_id, "input.add")
    removing = set(clean_participant_ids(remove, task.assignee_id, "input.remove"))
    if not adding and not removing:
        raise BadUserInput("give participants to add or remove", field="input.add")
    kept = [p for p in task.participant_ids if p not in removing]
    added = [p for p in adding if p not in kept and p not in removing]
    new = clean_participant_ids([*kept, *added], task.assignee_id)
    removed = [p for p in task.participant_ids if p in removing]
    return new, added, removed


def participates(task: FollowUp, user_id: str) -> bool:
    return task.assignee_id == user_id or user_id in task.participant_ids
