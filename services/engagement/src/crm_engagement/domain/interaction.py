"""Interactions with a customer and their rules. Pure: no I/O, no framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput

CONTENT_MAX = 20_000
SUMMARY_MAX = 2_000
PARTICIPANTS_MAX = 50
# Interactions are logged after the fact, never in the future (a small clock skew is allowed).
FUTURE_TOLERANCE = timedelta(minutes=5)


class InteractionKind(StrEnum):
    PHONE_CALL = "phone_call"
    VISIT = "visit"
    EMAIL = "email"
    MEETING = "meeting"
    CHAT = "chat"


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
    participants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """Engagement's local copy of what it needs to know about a customer (from events)."""

    id: str
    tenant_id: str
    name: str
    owner_id: str
    team: str | None = None


def validate_interaction_text(
    *,
    content: str,
    occurred_at: datetime,
    now: datetime,
    feedback: str | None,
    objections: str | None,
    next_steps: str | None,
    participants: list[str],
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
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    if occurred_at > now + FUTURE_TOLERANCE:
        raise BadUserInput("occurredAt must not be in the future", field="input.occurredAt")
    if len(participants) > PARTICIPANTS_MAX:
        raise BadUserInput(f"at most {PARTICIPANTS_MAX} participants", field="input.participants")
    if any(not p.strip() for p in participants):
        raise BadUserInput("participants must not be blank", field="input.participants")
