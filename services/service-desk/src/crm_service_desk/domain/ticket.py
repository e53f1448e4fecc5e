"""Tickets and their rules. Pure: no I/O, no framework."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput

TITLE_MAX = 200


class TicketPriority(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class TicketStatus(StrEnum):
    NEW = "NEW"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_ON_CUSTOMER = "WAITING_ON_CUSTOMER"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


DEFAULT_PRIORITY = TicketPriority.MEDIUM
INITIAL_STATUS = TicketStatus.NEW


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    tenant_id: str
    customer_id: str
    title: str
    priority: TicketPriority
    status: TicketStatus
    opened_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewTicket:
    """A validated request to open a ticket."""

    customer_id: str
    title: str
    priority: TicketPriority


def validate_new_ticket(
    *, customer_id: str, title: str, priority: TicketPriority | None
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
        customer_id=clean_customer, title=clean_title, priority=priority or DEFAULT_PRIORITY
    )
