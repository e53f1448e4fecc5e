"""Activities (events, trainings, exhibitions, webinars) and who registered and attended. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput, Conflict
from crm_engagement.domain.interaction import NAME_MAX, Participant, as_utc

TITLE_MAX = 300
LOCATION_MAX = 500


class ActivityKind(StrEnum):
    EVENT = "event"
    TRAINING = "training"
    EXHIBITION = "exhibition"
    WEBINAR = "webinar"


class Attendance(StrEnum):
    """Which registrations count, for lists of customers by activity (event follow-up lists)."""

    REGISTERED = "registered"  # registered, whatever the attendance (recorded or not)
    ATTENDED = "attended"  # attendance recorded: came
    NO_SHOW = "no_show"  # attendance recorded: did not come
    PENDING = "pending"  # registered, attendance not recorded yet

    @property
    def attended_value(self) -> bool | str | None:
        """The stored ``attended`` a registration must have; "any" for REGISTERED."""
        if self is Attendance.REGISTERED:
            return "any"
        return {Attendance.ATTENDED: True, Attendance.NO_SHOW: False}.get(self)


# How many activities of one kind a "by kind" customer list looks at (newest first).
KIND_ACTIVITIES_MAX = 1_000


def check_attendance_filter(activity_id: str | None, kind: ActivityKind | None) -> None:
    """Exactly one of an activity or a kind of activity."""
    if (activity_id is None) == (kind is None):
        raise BadUserInput("give either activityId or activityKind", field="filter.activityId")


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    tenant_id: str
    kind: ActivityKind
    title: str
    starts_at: datetime
    ends_at: datetime | None
    location: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Registration:
    """One customer (and optionally one of its contacts) registered for one activity."""

    id: str
    tenant_id: str
    activity_id: str
    customer_id: str
    contact: Participant | None
    registered_by: str
    registered_at: datetime
    attended: bool | None = None  # None until attendance is recorded
    attendance_recorded_at: datetime | None = None


def validate_activity(
    *, title: str, starts_at: datetime, ends_at: datetime | None, location: str | None
) -> None:
    if not title.strip() or len(title) > TITLE_MAX:
        raise BadUserInput(f"title must be 1-{TITLE_MAX} characters", field="input.title")
    if ends_at is not None and as_utc(ends_at) < as_utc(starts_at):
        raise BadUserInput("endsAt must not be before startsAt", field="input.endsAt")
    if location is not None and len(location) > LOCATION_MAX:
        raise BadUserInput(
            f"location is longer than {LOCATION_MAX} characters", field="input.location"
        )


def validate_contact(contact: Participant | None) -> None:
    if contact is not None and (not contact.name.strip() or len(contact.name) > NAME_MAX):
        raise BadUserInput(f"contact name must be 1-{NAME_MAX} characters", field="input.contact")


def registration_key(activity_id: str, customer_id: str, contact: Participant | None) -> str:
    """One registration per activity, customer and contact (the same person twice is one)."""
    who = (contact.ref_id or contact.name.strip().lower()) if contact else "-"
    return f"{activity_id}|{customer_id}|{who}"


def check_attendance_recordable(
    registration: Registration, now: datetime, starts_at: datetime
) -> None:
    if now < as_utc(starts_at):
        raise Conflict("attendance can be recorded once the activity has started", field="input.id")
