"""Webhooks for partner systems: endpoints, deliveries, signing, address rules, retries. Pure.

Deliveries follow Standard Webhooks (https://www.standardwebhooks.com): headers
``webhook-id`` (the delivery's id, the same on every retry and redelivery),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``: one
``v1,<base64 HMAC-SHA256>`` per live secret, space-separated, over ``"{id}.{timestamp}.{body}"``
keyed with the base64-decoded secret (``whsec_<base64>``). During a rotation's grace period the
old secret signs too, so a partner can switch at its own pace.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import urlsplit

from crm_common.errors import BadUserInput

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
MAX_EVENT_TYPES = 100


class EndpointStatus(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"  # deliveries accumulate (PENDING) and go out on resume
    DISABLED = "DISABLED"  # the partner answered 410 Gone; nothing new is queued


class DeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class SigningSecret:
    secret: str  # whsec_<base64>
    created_at: datetime
    expires_at: datetime | None = None  # set on the old secret by a rotation

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    tenant_id: str
    url: str
    event_types: tuple[str, ...]  # empty: every event type
    description: str
    status: EndpointStatus
    secrets: tuple[SigningSecret, ...]
    created_at: datetime
    created_by: str
    updated_at: datetime
    version: int = 1
    disabled_reason: str | None = None

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    @property
    def queues_deliveries(self) -> bool:
        return self.status is not EndpointStatus.DISABLED

    def live_secrets(self, now: datetime) -> list[str]:
        return [s.secret for s in self.secrets if s.live(now)]


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    number: int
    started_at: datetime
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body_bytes: int = 0
    response_status: int | None = None
    response_body: str | None = None  # the first bytes, for the log
    duration_ms: float | None = None
    error: str | None = None
    finished: bool = False

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: str  # also the webhook-id header
    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    payload: str  # the CloudEvent (structured JSON), signed and sent as is
    status: DeliveryStatus
    created_at: datetime
    next_attempt_at: datetime | None
    attempts: int = 0  # attempts made (all time)
    run_attempts: int = 0  # attempts since the last (re)delivery request: drives the backoff
    run_started_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None


# -- secrets and signatures --------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw, validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One Standard Webhooks ``v1`` signature of ``body``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one signature per live secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_)


def verify(
    secret: str, msg_id: str, timestamp: int, body: bytes, header: str
) -> bool:  # what a receiver does
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in header.split())


def webhook_headers(
    secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
    }


def rotated(
    current: Sequence[SigningSecret], new: str, now: datetime, grace: timedelta
) -> tuple[SigningSecret, ...]:
    """The secrets after a rotation: the new one, plus the live old ones until ``now + grace``
    (already expiring ones keep their earlier expiry); expired ones are dropped."""
    kept = []
    for s in current:
        if not s.live(now):
            continue
        until = now + grace
        if s.expires_at is not None and s.expires_at < until:
            until = s.expires_at
        if until > now:
            kept.append(SigningSecret(s.secret, s.created_at, until))
    return (SigningSecret(new, now), *kept)


# -- addresses ---------------------------------------------------------------------------


def address_allowed(address: str) -> bool:
    """A public unicast address: not loopback, link-local, private, shared, reserved,
    multicast or unspecified (IPv4-mapped IPv6 judged as the IPv4 it maps)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        return address_allowed(str(ip.sixtofour))
    return ip.is_global and not ip.is_multicast


def refused_addresses(addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if not address_allowed(a)]


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    url: str
    scheme: str
    host: str
    port: int


def parse_endpoint_url(url: str, field_name: str = "input.url") -> ParsedUrl:
    """An http(s) URL with a host and no credentials; `BadUserInput` naming the field."""
    text = url.strip()
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in text):
        raise BadUserInput(
            "the endpoint url may not contain spaces or control characters", field=field_name
        )
    if not text:
        raise BadUserInput("the endpoint url is empty", field=field_name)
    if len(text) > MAX_URL_LENGTH:
        raise BadUserInput(
            f"the endpoint url is longer than {MAX_URL_LENGTH} characters", field=field_name
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BadUserInput(f"the endpoint url is not valid: {exc}", field=field_name) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadUserInput("the endpoint url must start with http:// or https://", field=field_name)
    if not parts.hostname:
        raise BadUserInput("the endpoint url has no host", field=field_name)
    if parts.username is not None or parts.password is not None:
        raise BadUserInput(
            "the endpoint url may not carry credentials (user:password@)", field=field_name
        )
    if parts.fragment:
        raise BadUserInput("the endpoint url may not have a #fragment", field=field_name)
    return ParsedUrl(
        url=text,
        scheme=scheme,
        host=parts.hostname,
        port=port or (443 if scheme == "https" else 80),
    )


def validate_event_types(
    types: Sequence[str], known: Iterable[str], field_name: str = "input.eventTypes"
) -> tuple[str, ...]:
    known_set = set(known)
    unique = tuple(dict.fromkeys(t.strip() for t in types))
    if len(unique) > MAX_EVENT_TYPES:
        raise BadUserInput(f"at most {MAX_EVENT_TYPES} event types", field=field_name)
    unknown = [t for t in unique if t not in known_set]
    if unknown:
        raise BadUserInput(
            f"unknown event type(s): {', '.join(sorted(unknown))} (see docs/events)",
            field=field_name,
        )
    return unique


def validate_description(description: str, field_name: str = "input.description") -> str:
    text = description.strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise BadUserInput(
            f"the description is longer than {MAX_DESCRIPTION_LENGTH} characters",
            field=field_name,
        )
    return text


# -- retries -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: the n-th retry waits a random time in
    ``[0, min(max_delay, base * 2**(n-1))]``; retries go on until ``window`` has passed since
    the run began (at least 24 h in production), then the delivery is FAILED."""

    base_s: float = 5.0
    max_delay_s: float = 3600.0
    window_s: float = 24 * 3600.0

    def next_delay_s(self, run_attempts: int, rnd: random.Random | None = None) -> float:
        ceiling = min(self.max_delay_s, self.base_s * 2 ** max(run_attempts - 1, 0))
        return (rnd or random).uniform(0, ceiling)

    def gives_up(self, run_started_at: datetime, now: datetime) -> bool:
        return (now - run_started_at).total_seconds() >= self.window_s


def retryable(status: int | None) -> bool:
    """Network errors and every non-2xx are retried, except 410 Gone (the endpoint is gone)."""
    return status != 410
