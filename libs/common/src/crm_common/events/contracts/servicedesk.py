"""Events published by the service-desk service on ``crm.servicedesk.v1``.

Key: the customer id (per-customer ordering), except ``article_published`` whose key is the
article id (knowledge-base articles belong to no customer) and the ``improvement_task_*`` events
of a task about no customer, whose key is the task id. Scores are integers 1-5; no free
text from customers (survey comments) travels on the topic.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from crm_common.events.contracts.base import EventData

TOPIC = "crm.servicedesk.v1"


class ServiceOrderOpened(EventData):
    """A delivery was opened, automatically from an accepted quote (``source`` QUOTE) or by hand."""

    event_type: ClassVar[str] = "crm.servicedesk.service_order_opened"
    topic: ClassVar[str] = TOPIC

    order_id: str
    customer_id: str
    source: str  # QUOTE | MANUAL
    quote_id: str | None = None
    title: str
    owner_id: str
    team: str | None = None
    opened_at: datetime


class ServiceOrderStageChanged(EventData):
    """The order moved to another delivery stage (``from_stage`` null when delivery starts)."""

    event_type: ClassVar[str] = "crm.servicedesk.service_order_stage_changed"
    topic: ClassVar[str] = TOPIC

    order_id: str
    customer_id: str
    from_stage: str | None = None
    to_stage: str
    progress: int
    actor_id: str
    changed_at: datetime


class ServiceOrderDelivered(EventData):
    """Acceptance & delivery completed: the order is delivered (a survey follows)."""

    event_type: ClassVar[str] = "crm.servicedesk.service_order_delivered"
    topic: ClassVar[str] = TOPIC

    order_id: str
    customer_id: str
    quote_id: str | None = None
    owner_id: str
    actor_id: str
    delivered_at: datetime


class TicketOpened(EventData):
    """A ticket was opened; its SLA due times come from the tenant's table for its priority."""

    event_type: ClassVar[str] = "crm.servicedesk.ticket_opened"
    topic: ClassVar[str] = TOPIC

    ticket_id: str
    customer_id: str
    # The ticket's title, so timelines can say what it is about (absent in older events).
    title: str | None = None
    category: str
    priority: str
    department: str | None = None
    opened_by: str
    response_due_at: datetime
    resolution_due_at: datetime
    opened_at: datetime


class TicketAssigned(EventData):
    """The ticket was dispatched to a department and assignee."""

    event_type: ClassVar[str] = "crm.servicedesk.ticket_assigned"
    topic: ClassVar[str] = TOPIC

    ticket_id: str
    customer_id: str
    department: str
    assignee_id: str
    actor_id: str
    assigned_at: datetime


class TicketResolved(EventData):
    """The ticket was resolved; ``within_sla`` is false if it was resolved after its due time."""

    event_type: ClassVar[str] = "crm.servicedesk.ticket_resolved"
    topic: ClassVar[str] = TOPIC

    ticket_id: str
    customer_id: str
    priority: str
    resolved_by: str
    within_sla: bool
    opened_at: datetime
    resolved_at: datetime


class TicketReopened(EventData):
    """A resolved or closed ticket was reopened."""

    event_type: ClassVar[str] = "crm.servicedesk.ticket_reopened"
    topic: ClassVar[str] = TOPIC

    ticket_id: str
    customer_id: str
    actor_id: str
    reason: str | None = None
    reopened_at: datetime


class TicketStatusChanged(EventData):
    """The ticket moved along its workflow by hand (IN_PROGRESS, WAITING_ON_CUSTOMER, CLOSED,
    ...); resolving publishes ``ticket_resolved`` instead, dispatching ``ticket_assigned``."""

    event_type: ClassVar[str] = "crm.servicedesk.ticket_status_changed"
    topic: ClassVar[str] = TOPIC

    ticket_id: str
    customer_id: str
    from_status: str
    to_status: str
    actor_id: str
    changed_at: datetime


class TicketSlaBreached(EventData):
    """A response or resolution due time passed (emitted once per ticket and kind)."""

    event_type: ClassVar[str] = "crm.servicedesk.ticket_sla_breached"
    topic: ClassVar[str] = TOPIC

    ticket_id: str
    customer_id: str
    priority: str
    kind: str  # RESPONSE | RESOLUTION
    due_at: datetime
    detected_at: datetime
    department: str | None = None
    escalated_to: str | None = None


class SurveySent(EventData):
    """A satisfaction survey went out after a delivery (SERVICE_ORDER) or a resolution (TICKET)."""

    event_type: ClassVar[str] = "crm.servicedesk.survey_sent"
    topic: ClassVar[str] = TOPIC

    survey_id: str
    customer_id: str
    subject_type: str  # SERVICE_ORDER | TICKET
    subject_id: str
    template_id: str
    dimensions: list[str]
    sent_at: datetime


class SurveyResponded(EventData):
    """The customer answered a survey: a 1-5 score per dimension. ``channel`` LINK: the customer
    answered through the link; PHONE: an agent (``recorded_by``) recorded the answers given on a
    follow-up call (电话回访). Older events have neither field (LINK)."""

    event_type: ClassVar[str] = "crm.servicedesk.survey_responded"
    topic: ClassVar[str] = TOPIC

    survey_id: str
    customer_id: str
    subject_type: str
    subject_id: str
    scores: dict[str, int]
    responded_at: datetime
    channel: str = "LINK"  # LINK | PHONE
    recorded_by: str | None = None


class ArticlePublished(EventData):
    """A knowledge-base article was published (``source_ticket_id`` when promoted from one)."""

    event_type: ClassVar[str] = "crm.servicedesk.article_published"
    topic: ClassVar[str] = TOPIC

    article_id: str
    title: str
    kind: str
    tags: list[str]
    author_id: str
    source_ticket_id: str | None = None
    published_at: datetime


class _ImprovementTaskEvent(EventData):
    topic: ClassVar[str] = TOPIC

    task_id: str
    customer_id: str | None = None
    team: str | None = None
    owner_id: str | None = None


class ImprovementTaskOpened(_ImprovementTaskEvent):
    """An improvement task (改进任务) was opened: from a low survey score (``source`` SURVEY), a
    complaint ticket (TICKET) or by a manager (MANUAL); ``source_id`` names the survey or ticket.
    """

    event_type: ClassVar[str] = "crm.servicedesk.improvement_task_opened"

    title: str
    source: str  # SURVEY | TICKET | MANUAL
    source_id: str | None = None
    due_at: datetime
    opened_by: str
    opened_at: datetime


class ImprovementTaskUpdated(_ImprovementTaskEvent):
    """An open task changed: status (OPEN → IN_PROGRESS), owner, team or due time; the fields
    carry the task after the change."""

    event_type: ClassVar[str] = "crm.servicedesk.improvement_task_updated"

    status: str
    due_at: datetime
    actor_id: str
    updated_at: datetime


class ImprovementTaskClosed(_ImprovementTaskEvent):
    """The task was closed: DONE (the improvement is made) or CANCELLED, with a closure note."""

    event_type: ClassVar[str] = "crm.servicedesk.improvement_task_closed"

    status: str  # DONE | CANCELLED
    due_at: datetime
    overdue: bool  # closed after its due time
    actor_id: str
    closed_at: datetime


class ImprovementTaskOverdue(_ImprovementTaskEvent):
    """An open task passed its due time (announced once per task and due time)."""

    event_type: ClassVar[str] = "crm.servicedesk.improvement_task_overdue"

    due_at: datetime
    detected_at: datetime
