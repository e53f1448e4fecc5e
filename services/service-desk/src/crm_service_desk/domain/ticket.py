"""Tickets, their status workflow and their SLA. Pure: no I/O, no framework."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
NAME_MAX = 100
NOTE_MAX = 5_000


class TicketPriority(StrEnum):
    URGENT = "URGENT"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class TicketCategory(StrEnum):
    INCIDENT = "INCIDENT"
    QUESTION = "QUESTION"
    COMPLAINT = "COMPLAINT"
    CHANGE_REQUEST = "CHANGE_REQUEST"
    MAINTENANCE = "MAINTENANCE"
    OTHER = "OTHER"


class TicketStatus(StrEnum):
    NEW = "NEW"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_ON_CUSTOMER = "WAITING_ON_CUSTOMER"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class SlaKind(StrEnum):
    RESPONSE = "RESPONSE"
    RESOLUTION = "RESOLUTION"


DEFAULT_PRIORITY = TicketPriority.MEDIUM
INITIAL_STATUS = TicketStatus.NEW
DONE_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})

# The moves `changeTicketStatus` allows. Assignment (→ ASSIGNED) and reopening (RESOLVED/CLOSED →
# IN_PROGRESS) have their own use cases because they carry more than a status.
_MOVES: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset(),
    TicketStatus.ASSIGNED: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED}),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.RESOLVED}),
    TicketStatus.WAITING_ON_CUSTOMER: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}
_ASSIGNABLE = frozenset(
    {
        TicketStatus.NEW,
        TicketStatus.ASSIGNED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.WAITING_ON_CUSTOMER,
    }
)


@dataclass(frozen=True, slots=True)
class SlaTarget:
    """How long a ticket of one priority may wait for a first response and for resolution."""

    priority: TicketPriority
    response_seconds: int
    resolution_seconds: int


# Defaults when a tenant has not set its own table (an admin may override each row).
DEFAULT_SLA: dict[TicketPriority, SlaTarget] = {
    TicketPriority.URGENT: SlaTarget(TicketPriority.URGENT, 15 * 60, 4 * 3600),
    TicketPriority.HIGH: SlaTarget(TicketPriority.HIGH, 3600, 24 * 3600),
    TicketPriority.MEDIUM: SlaTarget(TicketPriority.MEDIUM, 4 * 3600, 3 * 24 * 3600),
    TicketPriority.LOW: SlaTarget(TicketPriority.LOW, 24 * 3600, 7 * 24 * 3600),
}
SLA_MAX_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One entry of a ticket's history: what happened, who did it, when."""

    action: str
    actor_id: str
    at: datetime
    from_status: TicketStatus | None = None
    to_status: TicketStatus | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    tenant_id: str
    customer_id: str
    title: str
    description: str
    category: TicketCategory
    priority: TicketPriority
    status: TicketStatus
    opened_by: str
    created_at: datetime
    response_due_at: datetime
    resolution_due_at: datetime
    department: str | None = None
    assignee_id: str | None = None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    escalated_to: str | None = None
    escalated_at: datetime | None = None
    history: tuple[TicketEvent, ...] = field(default_factory=tuple)
    version: int = 0

    @property
    def escalated(self) -> bool:
        return self.escalated_at is not None


@dataclass(frozen=True, slots=True)
class NewTicket:
    """A validated request to open a ticket."""

    customer_id: str
    title: str
    description: str
    category: TicketCategory
    priority: TicketPriority
    department: str | None


def clean_name(value: str | None, field_name: str, *, required: bool = False) -> str | None:
    """A short single-line name (department, user id, tag) trimmed, or None when blank."""
    if value is None or not value.strip():
        if required:
            raise BadUserInput(f"{field_name.split('.')[-1]} must not be empty", field=field_name)
        return None
    clean = re.sub(r"\s+", " ", value).strip()
    if len(clean) > NAME_MAX:
        raise BadUserInput(
            f"{field_name.split('.')[-1]} is longer than {NAME_MAX} characters", field=field_name
        )
    return clean


def clean_text(value: str | None, field_name: str, limit: int, *, required: bool = False) -> str:
    clean = (value or "").strip()
    if required and not clean:
        raise BadUserInput(f"{field_name.split('.')[-1]} must not be empty", field=field_name)
    if len(clean) > limit:
        raise BadUserInput(
            f"{field_name.split('.')[-1]} is longer than {limit} characters", field=field_name
        )
    return clean


def validate_new_ticket(
    *,
    customer_id: str,
    title: str,
    priority: TicketPriority | None,
    description: str | None = None,
    category: TicketCategory | None = None,
    department: str | None = None,
) -> NewTicket:
    """Check a new ticket; the first problem is raised with the input field it concerns."""
    clean_customer = customer_id.strip()
    if not clean_customer:
        raise BadUserInput("customerId must not be empty", field="input.customerId")
    clean_title = re.sub(r"\s+", " ", title).strip()
    if not clean_title:
        raise BadUserInput("title must not be empty", field="input.title")
    if len(clean_title) > TITLE_MAX:
        raise BadUserInput(f"title is longer than {TITLE_MAX} characters", field="input.title")
    return NewTicket(
        customer_id=clean_customer,
        title=clean_title,
        description=clean_text(description, "input.description", DESCRIPTION_MAX),
        category=category or TicketCategory.OTHER,
        priority=priority or DEFAULT_PRIORITY,
        department=clean_name(department, "input.department"),
    )


def due_times(target: SlaTarget, opened_at: datetime) -> tuple[datetime, datetime]:
    """(response due, resolution due) for a ticket opened at ``opened_at``."""
    return (
        opened_at + timedelta(seconds=target.response_seconds),
        opened_at + timedelta(seconds=target.resolution_seconds),
    )


def validate_sla_target(target: SlaTarget, field_prefix: str) -> SlaTarget:
    if not 1 <= target.response_seconds <= SLA_MAX_SECONDS:
        raise BadUserInput(
            f"responseSeconds must be between 1 and {SLA_MAX_SECONDS}",
            field=f"{field_prefix}.responseSeconds",
        )
    if not target.response_seconds <= target.resolution_seconds <= SLA_MAX_SECONDS:
        raise BadUserInput(
            "resolutionSeconds must be at least responseSeconds and at most one year",
            field=f"{field_prefix}.resolutionSeconds",
        )
    return target


def check_move(current: TicketStatus, target: TicketStatus) -> None:
    """Raise BAD_USER_INPUT unless the workflow allows ``current`` → ``target``."""
    if target is TicketStatus.ASSIGNED:
        raise BadUserInput("use assignTicket to dispatch a ticket", field="input.status")
    if target not in _MOVES[current]:
        raise BadUserInput(
            f"a ticket cannot move from {current.value} to {target.value}", field="input.status"
        )


def check_assignable(current: TicketStatus) -> None:
    if current not in _ASSIGNABLE:
        raise BadUserInput(
            f"a {current.value} ticket cannot be assigned; reopen it first", field="input.ticketId"
        )


def check_reopenable(current: TicketStatus) -> None:
    if current not in DONE_STATUSES:
        raise BadUserInput(
            f"only a resolved or closed ticket can be reopened (it is {current.value})",
            field="input.ticketId",
        )


def counts_as_response(target: TicketStatus) -> bool:
    """The first response is the first move into active work (or straight to a resolution)."""
    return target in {
        TicketStatus.IN_PROGRESS,
        TicketStatus.WAITING_ON_CUSTOMER,
        TicketStatus.RESOLVED,
    }


def breaches_due(ticket: Ticket, now: datetime) -> list[SlaKind]:
    """The SLA kinds whose due time has passed and that were not reported yet."""
    if ticket.status in DONE_STATUSES:
        return []
    kinds = []
    if (
        ticket.responded_at is None
        and ticket.response_breached_at is None
        and ticket.response_due_at <= now
    ):
        kinds.append(SlaKind.RESPONSE)
    if (
        ticket.resolved_at is None
        and ticket.resolution_breached_at is None
        and ticket.resolution_due_at <= now
    ):
        kinds.append(SlaKind.RESOLUTION)
    return kinds
