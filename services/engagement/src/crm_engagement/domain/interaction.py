"""Interactions with a customer and their rules. Pure: no I/O, no framework.

An interaction may be edited by its author for a short grace period after it was logged; after
that it is a record, and mistakes are fixed by appending corrections (never by rewriting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput, Conflict, Forbidden

CONTENT_MAX = 20_000
SUMMARY_MAX = 2_000
PARTICIPANTS_MAX = 50
ATTACHMENTS_MAX = 20
NAME_MAX = 200
CORRECTION_MAX = 5_000
CORRECTIONS_MAX = 100
# Interactions are logged after the fact, never in the future (a small clock skew is allowed).
FUTURE_TOLERANCE = timedelta(minutes=5)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InteractionKind(StrEnum):
    PHONE_CALL = "phone_call"
    VISIT = "visit"
    EMAIL = "email"
    MEETING = "meeting"
    CHAT = "chat"


class ParticipantKind(StrEnum):
    USER = "user"  # one of our users (by user id)
    CONTACT = "contact"  # a contact person of the customer (contact id from the customer service)


@dataclass(frozen=True, slots=True)
class Participant:
    kind: ParticipantKind
    name: str
    ref_id: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file stored elsewhere (the customer service's file store), referenced by id."""

    file_id: str
    name: str
    content_type: str | None = None
    size_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Correction:
    id: str
    text: str
    author_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Interaction:
    id: str
    tenant_id: str
    customer_id: str
    kind: InteractionKind
    occurred_at: datetime
    content: str
    owner_id: str
    created_at: datetime
    feedback: str | None = None
    objections: str | None = None
    next_steps: str | None = None
    participants: tuple[Participant, ...] = ()
    attachments: tuple[FileRef, ...] = ()
    corrections: tuple[Correction, ...] = ()
    edited_at: datetime | None = None
    followup_id: str | None = None  # the follow-up whose completion logged it


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """Engagement's local copy of what it needs to know about a customer (from events)."""

    id: str
    tenant_id: str
    name: str
    owner_id: str
    team: str | None = None
    priority: str = "medium"
    last_interaction_at: datetime | None = None
    merged_into: str | None = None
    # The follow-up cadence the customer service announced (INTENSIVE/NORMAL/OBSERVATION).
    cadence: str | None = None


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def validate_interaction_text(
    *,
    content: str,
    occurred_at: datetime,
    now: datetime,
    feedback: str | None,
    objections: str | None,
    next_steps: str | None,
    participants: list[Participant],
    attachments: list[FileRef] | None = None,
) -> None:
    if not content.strip():
        raise BadUserInput("content must not be empty", field="input.content")
    if len(content) > CONTENT_MAX:
        raise BadUserInput(
            f"content is longer than {CONTENT_MAX} characters", field="input.content"
        )
    for name, value in (
        ("feedback", feedback),
        ("objections", objections),
        ("nextSteps", next_steps),
    ):
        if value is not None and len(value) > SUMMARY_MAX:
            raise BadUserInput(
                f"{name} is longer than {SUMMARY_MAX} characters", field=f"input.{name}"
            )
    if as_utc(occurred_at) > now + FUTURE_TOLERANCE:
        raise BadUserInput("occurredAt must not be in the future", field="input.occurredAt")
    validate_participants(participants)
    validate_attachments(attachments or [])


def validate_participants(participants: list[Participant]) -> None:
    if len(participants) > PARTICIPANTS_MAX:
        raise BadUserInput(f"at most {PARTICIPANTS_MAX} participants", field="input.participants")
    for p in participants:
        if not p.name.strip() or len(p.name) > NAME_MAX:
            raise BadUserInput(
                f"participant names must be 1-{NAME_MAX} characters", field="input.participants"
            )
        if p.kind is ParticipantKind.USER and not (p.ref_id or "").strip():
            raise BadUserInput("a user participant needs the user's id", field="input.participants")
        if p.email is not None and not _EMAIL.match(p.email):
            raise BadUserInput(f"{p.email!r} is not an email address", field="input.participants")
        if p.phone is not None and not (3 <= len(p.phone.strip()) <= 40):
            raise BadUserInput("phone must be 3-40 characters", field="input.participants")


def validate_attachments(attachments: list[FileRef]) -> None:
    if len(attachments) > ATTACHMENTS_MAX:
        raise BadUserInput(f"at most {ATTACHMENTS_MAX} attachments", field="input.attachments")
    for a in attachments:
        if not a.file_id.strip() or not a.name.strip() or len(a.name) > NAME_MAX:
            raise BadUserInput("attachments need a file id and a name", field="input.attachments")
        if a.size_bytes is not None and a.size_bytes < 0:
            raise BadUserInput("sizeBytes must not be negative", field="input.attachments")


def check_editable(interaction: Interaction, user_id: str, now: datetime, grace: timedelta) -> None:
    """Only the author edits, and only within the grace period; afterwards: corrections."""
    if interaction.owner_id != user_id:
        raise Forbidden("only the author may edit an interaction")
    if now > interaction.created_at + grace:
        raise Conflict(
            "the edit grace period is over; add a correction instead",
            field="input.id",
            graceMinutes=int(grace.total_seconds() // 60),
        )


def validate_correction(interaction: Interaction, text: str) -> None:
    if not text.strip() or len(text) > CORRECTION_MAX:
        raise BadUserInput(f"a correction needs 1-{CORRECTION_MAX} characters", field="input.text")
    if len(interaction.corrections) >= CORRECTIONS_MAX:
        raise Conflict(f"at most {CORRECTIONS_MAX} corrections per interaction", field="input.id")


def mask_email(email: str | None) -> str | None:
    if email is None:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(phone: str | None) -> str | None:
    if phone is None:
        return None
    digits = phone.strip()
    return "*" * max(len(digits) - 4, 3) + digits[-4:] if len(digits) > 4 else "****"


def masked(participant: Participant) -> Participant:
    return Participant(
        kind=participant.kind,
        name=participant.name,
        ref_id=participant.ref_id,
        email=mask_email(participant.email),
        phone=mask_phone(participant.phone),
    )
