"""Satisfaction surveys: templates with dimensions, single-use response tokens, CSAT. Pure."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput
from crm_service_desk.domain.ticket import clean_name

COMMENT_MAX = 5_000
DIMENSIONS_MAX = 12
SCORE_MIN, SCORE_MAX = 1, 5
# CSAT counts a response as satisfied when it scores 4 or 5 (the usual top-two-box rule).
SATISFIED_FROM = 4
TOKEN_BYTES = 32  # 256 bits: unguessable, so a fast hash of it is safe to store

DEFAULT_TEMPLATE_ID = "default"
DEFAULT_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("service_quality", "Service quality"),
    ("response_speed", "Response speed"),
    ("professionalism", "Professionalism"),
)


class SurveySubject(StrEnum):
    TICKET = "TICKET"
    SERVICE_ORDER = "SERVICE_ORDER"


class SurveyChannel(StrEnum):
    """How the answers came in: the customer through the link, or an agent on the phone."""

    LINK = "LINK"
    PHONE = "PHONE"  # 电话回访: an agent recorded the answers the customer gave on a call


class SurveyStatus(StrEnum):
    SENT = "SENT"
    RESPONDED = "RESPONDED"


@dataclass(frozen=True, slots=True)
class Dimension:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class SurveyTemplate:
    id: str
    tenant_id: str
    name: str
    dimensions: tuple[Dimension, ...]
    subject: SurveySubject | None  # None: used for both kinds of subject
    created_at: datetime | None = None


def default_template(tenant_id: str) -> SurveyTemplate:
    return SurveyTemplate(
        id=DEFAULT_TEMPLATE_ID,
        tenant_id=tenant_id,
        name="Standard satisfaction survey",
        dimensions=tuple(Dimension(k, label) for k, label in DEFAULT_DIMENSIONS),
        subject=None,
    )


@dataclass(frozen=True, slots=True)
class Survey:
    id: str
    tenant_id: str
    customer_id: str
    subject_type: SurveySubject
    subject_id: str
    template_id: str
    dimensions: tuple[Dimension, ...]
    status: SurveyStatus
    sent_at: datetime
    scores: dict[str, int] | None = None
    comment: str | None = None
    responded_at: datetime | None = None
    channel: SurveyChannel | None = None  # set once answered
    recorded_by: str | None = None  # the agent who recorded a PHONE answer


@dataclass(frozen=True, slots=True)
class DimensionCsat:
    dimension: str
    responses: int
    score_sum: int
    satisfied: int

    @property
    def average(self) -> float:
        return self.score_sum / self.responses if self.responses else 0.0

    @property
    def csat_percent(self) -> float:
        return 100.0 * self.satisfied / self.responses if self.responses else 0.0


_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def validate_template(
    name: str, dimensions: list[tuple[str, str]], subject: SurveySubject | None
) -> tuple[str, tuple[Dimension, ...]]:
    clean = clean_name(name, "input.name", required=True)
    assert clean is not None
    if not 1 <= len(dimensions) <= DIMENSIONS_MAX:
        raise BadUserInput(
            f"a template has 1 to {DIMENSIONS_MAX} dimensions", field="input.dimensions"
        )
    seen: set[str] = set()
    result = []
    for i, (key, label) in enumerate(dimensions):
        if not _KEY.match(key):
            raise BadUserInput(
                "a dimension key is lower_snake_case, at most 40 characters",
                field=f"input.dimensions.{i}.key",
            )
        if key in seen:
            raise BadUserInput("dimension keys must be unique", field=f"input.dimensions.{i}.key")
        seen.add(key)
        clean_label = clean_name(label, f"input.dimensions.{i}.label", required=True)
        assert clean_label is not None
        result.append(Dimension(key, clean_label))
    return clean, tuple(result)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_response(
    survey_dimensions: tuple[Dimension, ...], scores: dict[str, object], comment: object
) -> tuple[dict[str, int], str | None]:
    """Every dimension scored once, 1-5, nothing else; an optional comment."""
    expected = {d.key for d in survey_dimensions}
    unknown = sorted(set(scores) - expected)
    if unknown:
        raise BadUserInput(f"unknown dimension {unknown[0]!r}", field=f"scores.{unknown[0]}")
    missing = sorted(expected - set(scores))
    if missing:
        raise BadUserInput(f"dimension {missing[0]!r} needs a score", field=f"scores.{missing[0]}")
    clean: dict[str, int] = {}
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadUserInput("a score is a whole number from 1 to 5", field=f"scores.{key}")
        if not SCORE_MIN <= value <= SCORE_MAX:
            raise BadUserInput("a score is a whole number from 1 to 5", field=f"scores.{key}")
        clean[key] = value
    if comment is not None and not isinstance(comment, str):
        raise BadUserInput("comment must be text", field="comment")
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise BadUserInput(f"comment is longer than {COMMENT_MAX} characters", field="comment")
    return clean, text or None
