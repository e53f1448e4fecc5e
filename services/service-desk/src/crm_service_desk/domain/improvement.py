"""Improvement tasks (改进任务): what the desk does about a low survey score, a complaint or a
manager's decision. Pure: rules, no I/O.

A task has an owner, a team, a due time, a status and, once closed, a closure note. Tasks
opened automatically take a deterministic id derived from their source (``survey:<id>``,
``ticket:<id>``), so a redelivered or replayed event, or two replicas reacting to the same event,
open one task: the second insert of the same id is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput
from crm_service_desk.domain.ticket import NOTE_MAX, TITLE_MAX, clean_name, clean_text

# A survey answer with any dimension scored at or below this opens a task (1-2 of 5: unhappy).
LOW_SCORE_AT_MOST = 2
DEFAULT_DUE = timedelta(days=7)
MAX_DUE = timedelta(days=366)
_TASK_NAMESPACE = uuid.UUID("6f1d0a52-3c1e-4f0e-9d57-5c4a3e0b7a18")


class TaskSource(StrEnum):
    SURVEY = "SURVEY"
    TICKET = "TICKET"
    MANUAL = "MANUAL"


class TaskStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


OPEN_STATUSES = frozenset({TaskStatus.OPEN, TaskStatus.IN_PROGRESS})
CLOSED_STATUSES = frozenset({TaskStatus.DONE, TaskStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class TaskHistoryEntry:
    action: str  # OPENED, STARTED, REASSIGNED, RESCHEDULED, EDITED, OVERDUE, DONE, CANCELLED
    actor_id: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ImprovementTask:
    id: str
    tenant_id: str
    title: str
    description: str
    source: TaskSource
    source_id: str | None
    customer_id: str | None
    team: str | None
    owner_id: str | None
    status: TaskStatus
    due_at: datetime
    opened_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    closure_note: str | None = None
    overdue_at: datetime | None = None  # when the overdue monitor announced it
    history: tuple[TaskHistoryEntry, ...] = field(default_factory=tuple)
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def overdue(self, now: datetime) -> bool:
        """Open past its due time (a closed task is overdue if it was closed late)."""
        if self.closed_at is not None:
            return self.closed_at > self.due_at
        return self.due_at <= now


def source_key(source: TaskSource, source_id: str | None) -> str | None:
    """What makes an automatic task unique per tenant; manual tasks have none."""
    if source is TaskSource.MANUAL or not source_id:
        return None
    return f"{source.value.lower()}:{source_id}"


def task_id_for(tenant_id: str, source: TaskSource, source_id: str) -> str:
    """The id of the task opened automatically from ``source_id``: the same on every replica."""
    key = source_key(source, source_id)
    assert key is not None
    return str(uuid.uuid5(_TASK_NAMESPACE, f"{tenant_id}\x1f{key}"))


def low_scores(scores: Mapping[str, int]) -> dict[str, int]:
    """The dimensions that make an answer call for a task (empty: no task)."""
    return {k: v for k, v in sorted(scores.items()) if v <= LOW_SCORE_AT_MOST}


def survey_task_title(subject_type: str, scores: Mapping[str, int]) -> tuple[str, str]:
    low = low_scores(scores)
    subject = "service order" if subject_type == "SERVICE_ORDER" else "ticket"
    dims = ", ".join(f"{k} {v}/5" for k, v in low.items())
    return (
        f"Low satisfaction on a {subject}: {dims}"[:TITLE_MAX],
        f"The customer scored {dims} in the survey of this {subject}. Find the cause, agree the "
        "improvement with the customer and record what was done.",
    )


def complaint_task_title(ticket_title: str | None) -> tuple[str, str]:
    title = f"Complaint: {ticket_title}" if ticket_title else "Customer complaint"
    return (
        title[:TITLE_MAX],
        "A complaint ticket was opened. Beyond resolving the ticket, find what made the customer "
        "complain and improve it.",
    )


def validate_title(title: str) -> str:
    clean = " ".join(title.split())
    if not clean:
        raise BadUserInput("title must not be empty", field="input.title")
    if len(clean) > TITLE_MAX:
        raise BadUserInput(f"title is longer than {TITLE_MAX} characters", field="input.title")
    return clean


def validate_due(due_at: datetime, now: datetime, field_name: str = "input.dueAt") -> datetime:
    if due_at.tzinfo is None:
        raise BadUserInput("dueAt needs a time zone (ISO 8601 with offset)", field=field_name)
    if due_at > now + MAX_DUE:
        raise BadUserInput("dueAt is more than a year ahead", field=field_name)
    return due_at


@dataclass(frozen=True, slots=True)
class TaskChanges:
    """A validated edit of an open task; None leaves a field as it is."""

    title: str | None = None
    description: str | None = None
    owner_id: str | None = None
    team: str | None = None
    due_at: datetime | None = None
    start: bool = False


def validate_changes(
    *,
    title: str | None,
    description: str | None,
    owner_id: str | None,
    team: str | None,
    due_at: datetime | None,
    status: TaskStatus | None,
    now: datetime,
) -> TaskChanges:
    if status is not None and status is not TaskStatus.IN_PROGRESS:
        raise BadUserInput(
            "status may only be set to IN_PROGRESS here; close a task with closeImprovementTask",
            field="input.status",
        )
    return TaskChanges(
        title=validate_title(title) if title is not None else None,
        description=(
            clean_text(description, "input.description", NOTE_MAX)
            if description is not None
            else None
        ),
        owner_id=clean_name(owner_id, "input.ownerId") if owner_id is not None else None,
        team=clean_name(team, "input.team") if team is not None else None,
        due_at=validate_due(due_at, now) if due_at is not None else None,
        start=status is TaskStatus.IN_PROGRESS,
    )


def only_progress(changes: TaskChanges) -> bool:
    """True when the edit only starts the task (what its owner may do without managing it)."""
    return (
        changes.title is None
        and changes.description is None
        and changes.owner_id is None
        and changes.team is None
        and changes.due_at is None
    )


def apply_changes(
    task: ImprovementTask, changes: TaskChanges, actor_id: str, now: datetime
) -> ImprovementTask:
    if not task.is_open:
        raise BadUserInput(
            f"a {task.status.value} task cannot change; open a new one", field="input.taskId"
        )
    entries: list[TaskHistoryEntry] = []
    status = task.status
    if changes.start:
        if task.status is TaskStatus.IN_PROGRESS:
            raise BadUserInput("the task is in progress already", field="input.status")
        status = TaskStatus.IN_PROGRESS
        entries.append(TaskHistoryEntry("STARTED", actor_id, now))
    owner = task.owner_id
    if changes.owner_id is not None and changes.owner_id != task.owner_id:
        owner = changes.owner_id
        entries.append(TaskHistoryEntry("REASSIGNED", actor_id, now, note=owner))
    team = task.team
    if changes.team is not None and changes.team != task.team:
        team = changes.team
        entries.append(TaskHistoryEntry("MOVED_TEAM", actor_id, now, note=team))
    due = task.due_at
    if changes.due_at is not None and changes.due_at != task.due_at:
        due = changes.due_at
        entries.append(TaskHistoryEntry("RESCHEDULED", actor_id, now, note=due.isoformat()))
    title = changes.title if changes.title is not None else task.title
    description = changes.description if changes.description is not None else task.description
    if title != task.title or description != task.description:
        entries.append(TaskHistoryEntry("EDITED", actor_id, now))
    if not entries:
        raise BadUserInput("nothing to change", field="input")
    return replace(
        task,
        title=title,
        description=description,
        owner_id=owner,
        team=team,
        due_at=due,
        status=status,
        # A new due time may be met again: the monitor announces the new one if it passes.
        overdue_at=None if due != task.due_at else task.overdue_at,
        updated_at=now,
        history=(*task.history, *entries),
    )


def close(
    task: ImprovementTask, outcome: TaskStatus, note: str, actor_id: str, now: datetime
) -> ImprovementTask:
    if outcome not in CLOSED_STATUSES:
        raise BadUserInput("a task closes as DONE or CANCELLED", field="input.outcome")
    if not task.is_open:
        raise BadUserInput(f"the task is {task.status.value} already", field="input.taskId")
    clean_note = clean_text(note, "input.note", NOTE_MAX, required=True)
    return replace(
        task,
        status=outcome,
        closed_at=now,
        closure_note=clean_note,
        updated_at=now,
        history=(*task.history, TaskHistoryEntry(outcome.value, actor_id, now, clean_note)),
    )


def mark_overdue(task: ImprovementTask, now: datetime) -> ImprovementTask:
    return replace(
        task,
        overdue_at=now,
        history=(*task.history, TaskHistoryEntry("OVERDUE", "system", now)),
    )
