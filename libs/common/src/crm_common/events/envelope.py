"""CloudEvents 1.0 in Kafka binary mode: attributes in ``ce_*`` headers, the data as the body.

Besides the standard attributes every event carries ``ce_tenantid`` (the tenant it belongs to)
and the W3C ``traceparent`` of the change that produced it, so a consumer continues the trace.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_common.events.contracts.base import EventData, model_for

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class MalformedEvent(Exception):
    """A record that is not a valid CloudEvent of a known contract (goes to the dead letters)."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    id: str
    type: str
    source: str
    time: datetime
    tenant_id: str
    key: str
    data: dict[str, Any]
    traceparent: str | None = None
    tracestate: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        payload: EventData,
        *,
        source: str,
        tenant_id: str,
        key: str,
        traceparent: str | None = None,
        tracestate: str | None = None,
        time: datetime | None = None,
        id: str | None = None,
    ) -> CloudEvent:
        """A new event; ``id`` defaults to a random UUID. Pass a deterministic one (see
        `crm_common.coordination.deterministic_event_id`) when the same fact may be announced
        twice (a background loop during a lease handover): consumers then apply it once."""
        return cls(
            id=id or str(uuid.uuid4()),
            type=payload.event_type,
            source=source,
            time=time or datetime.now(UTC),
            tenant_id=tenant_id,
            key=key,
            data=payload.model_dump(mode="json"),
            traceparent=traceparent,
            tracestate=tracestate,
        )

    def with_id(self, event_id: str) -> CloudEvent:
        """The same event under another id (a deterministic one, for loops that may repeat)."""
        return dataclasses.replace(self, id=event_id)

    def parse(self) -> EventData:
        """The typed contract for this event; `MalformedEvent` if type or body do not fit."""
        model = model_for(self.type)
        if model is None:
            raise MalformedEvent(f"unknown event type {self.type!r}")
        try:
            return model.model_validate(self.data)
        except ValueError as exc:
            raise MalformedEvent(f"body does not match {self.type}: {exc}") from exc

    def headers(self) -> list[tuple[str, bytes]]:
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ce_tenantid": self.tenant_id,
            "content-type": CONTENT_TYPE,
            **self.extra_headers,
        }
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        if self.tracestate:
            headers["tracestate"] = self.tracestate
        return [(k, v.encode()) for k, v in headers.items()]

    def body(self) -> bytes:
        return json.dumps(self.data, separators=(",", ":"), ensure_ascii=False).encode()

    def to_document(self) -> dict[str, Any]:
        """The form stored in an outbox entry (crm_common.events.outbox)."""
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "time": self.time,
            "tenant_id": self.tenant_id,
            "key": self.key,
            "data": self.data,
            "traceparent": self.traceparent,
            "tracestate": self.tracestate,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> CloudEvent:
        time = doc["time"]
        if time.tzinfo is None:
            time = time.replace(tzinfo=UTC)
        return cls(
            id=doc["id"],
            type=doc["type"],
            source=doc["source"],
            time=time,
            tenant_id=doc["tenant_id"],
            key=doc["key"],
            data=doc["data"],
            traceparent=doc.get("traceparent"),
            tracestate=doc.get("tracestate"),
        )

    @classmethod
    def from_record(
        cls, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> CloudEvent:
        h = {k: v.decode("utf-8", errors="replace") for k, v in headers}
        missing = [
            name
            for name in ("ce_id", "ce_type", "ce_source", "ce_time", "ce_tenantid")
            if not h.get(name)
        ]
        if missing:
            raise MalformedEvent(f"missing CloudEvents headers: {', '.join(missing)}")
        if h.get("ce_specversion") != SPEC_VERSION:
            raise MalformedEvent(f"unsupported ce_specversion {h.get('ce_specversion')!r}")
        try:
            data = json.loads(value or b"null")
            time = datetime.fromisoformat(h["ce_time"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise MalformedEvent(f"unreadable event: {exc}") from exc
        if not isinstance(data, dict):
            raise MalformedEvent("event body must be a JSON object")
        return cls(
            id=h["ce_id"],
            type=h["ce_type"],
            source=h["ce_source"],
            time=time,
            tenant_id=h["ce_tenantid"],
            key=(key or b"").decode(),
            data=data,
            traceparent=h.get("traceparent"),
            tracestate=h.get("tracestate"),
        )
