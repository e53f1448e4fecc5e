"""Events published by the engagement service on ``crm.engagement.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from crm_common.events.contracts.base import EventData

TOPIC = "crm.engagement.v1"


class InteractionLogged(EventData):
    """A touch with the customer (call, visit, email, meeting, chat) was recorded."""

    event_type: ClassVar[str] = "crm.engagement.interaction_logged"
    topic: ClassVar[str] = TOPIC

    interaction_id: str
    customer_id: str
    kind: str
    occurred_at: datetime
    owner_id: str
    # When it was entered, and whether that was more than 24 h after it happened (the
    # 24-hour rule; absent in older events).
    entered_at: datetime | None = None
    late_entry: bool | None = None


class FollowUpScheduled(EventData):
    """A follow-up task was planned (by hand, from a cadence proposal, or for retention)."""

    event_type: ClassVar[str] = "crm.engagement.followup_scheduled"
    topic: ClassVar[str] = TOPIC

    followup_id: str
    customer_id: str
    assignee_id: str
    type: str
    priority: str
    goal: str
    due_at: datetime
    origin: str
    created_by: str
    # Colleagues who join the follow-up (user ids): they see it and are reminded too.
    participant_ids: list[str] = Field(default_factory=list)


class FollowUpParticipantsChanged(EventData):
    """Colleagues joined or left a follow-up (user ids); ``participant_ids`` is the new set."""

    event_type: ClassVar[str] = "crm.engagement.followup_participants_changed"
    topic: ClassVar[str] = TOPIC

    followup_id: str
    customer_id: str
    assignee_id: str
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    participant_ids: list[str] = Field(default_factory=list)
    changed_by: str
    changed_at: datetime


class FollowUpCompleted(EventData):
    """A follow-up was done; its outcome was logged as an interaction."""

    event_type: ClassVar[str] = "crm.engagement.followup_completed"
    topic: ClassVar[str] = TOPIC

    followup_id: str
    customer_id: str
    assignee_id: str
    outcome: str
    interaction_id: str
    completed_at: datetime


class FollowUpDue(EventData):
    """A follow-up's reminder time arrived (published once per task)."""

    event_type: ClassVar[str] = "crm.engagement.followup_due"
    topic: ClassVar[str] = TOPIC

    followup_id: str
    customer_id: str
    assignee_id: str
    priority: str
    goal: str
    due_at: datetime
    # Colleagues who join the follow-up (user ids): they see it and are reminded too.
    participant_ids: list[str] = Field(default_factory=list)


class FollowUpOverdue(EventData):
    """A follow-up's due time passed while it was still open (published once per task)."""

    event_type: ClassVar[str] = "crm.engagement.followup_overdue"
    topic: ClassVar[str] = TOPIC

    followup_id: str
    customer_id: str
    assignee_id: str
    priority: str
    goal: str
    due_at: datetime
    # Colleagues who join the follow-up (user ids): they see it and are reminded too.
    participant_ids: list[str] = Field(default_factory=list)


class ActivityRegistered(EventData):
    """A customer (optionally one contact, by id only) registered for an activity."""

    event_type: ClassVar[str] = "crm.engagement.activity_registered"
    topic: ClassVar[str] = TOPIC

    activity_id: str
    registration_id: str
    customer_id: str
    contact_id: str | None = None
    activity_kind: str
    title: str
    starts_at: datetime
    registered_at: datetime


class ActivityAttended(EventData):
    """A registered customer's attendance was recorded."""

    event_type: ClassVar[str] = "crm.engagement.activity_attended"
    topic: ClassVar[str] = TOPIC

    activity_id: str
    registration_id: str
    customer_id: str
    contact_id: str | None = None
    activity_kind: str
    attended_at: datetime


class NotificationCreated(EventData):
    """A notification entered a user's inbox (key: the recipient). ``recipient_id`` is a user
    id (the token's ``sub``), or ``audience:<role>:<team>`` (``*``: every team) for one that
    every user with that role in that team sees; ``email`` is set only when the recipient's
    preferences turn the e-mail channel on for this kind (never for an audience)."""

    event_type: ClassVar[str] = "crm.engagement.notification_created"
    topic: ClassVar[str] = TOPIC

    notification_id: str
    recipient_id: str
    kind: str
    title: str
    body: str
    record_type: str | None = None
    record_id: str | None = None
    customer_id: str | None = None
    email: str | None = None
    email_mode: str = "IMMEDIATE"
    created_at: datetime


class CarePlanStarted(EventData):
    """A customer became a deal: its owner got a long-term care visit plan (weekly in the
    first month, quarterly after, by default; the first round covers ``horizon_days``)."""

    event_type: ClassVar[str] = "crm.engagement.care_plan_started"
    topic: ClassVar[str] = TOPIC

    plan_id: str
    customer_id: str
    owner_id: str
    deal_at: datetime
    visits: int
    first_visit_at: datetime | None = None
    horizon_days: int


class TouchesPlanned(EventData):
    """A manager or admin planned a holiday greeting or content push for a customer segment:
    one follow-up per customer (each announced as ``followup_scheduled``). Key: campaign id."""

    event_type: ClassVar[str] = "crm.engagement.touches_planned"
    topic: ClassVar[str] = TOPIC

    campaign_id: str
    kind: str  # holiday_care | content_push
    title: str
    due_at: datetime
    customers: int
    planned_by: str
    segment: dict[str, list[str]] = Field(default_factory=dict)
