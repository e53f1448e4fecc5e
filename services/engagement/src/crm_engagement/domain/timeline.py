"""The customer timeline: one entry per event about a customer, from any service. Pure.

Entries are keyed by the event id, so a redelivered event lands once, and ordered by the time
the event happened (``ce_time``) and then by id, so a late event still sorts into its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

_CONTACT_KEYS = ("email", "phone", "mobile")
_MASK = "***"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    event_id: str
    tenant_id: str
    customer_id: str
    type: str
    source: str
    occurred_at: datetime
    data: dict[str, Any]


def service_of(event_type: str) -> str:
    """``crm.customer.created`` → ``customer``."""
    parts = event_type.split(".")
    return parts[1] if len(parts) > 2 else "unknown"


def customer_of(event_type: str, key: str, data: dict[str, Any]) -> str | None:
    """Which customer an event is about: the body says so, else the record key does."""
    for name in ("customer_id", "kept_id"):
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return key or None


def mask_contact_details(data: Any) -> Any:
    """The event body with any email/phone value masked (analysts read timelines masked)."""
    if isinstance(data, dict):
        return {
            k: _MASK
            if any(c in k.lower() for c in _CONTACT_KEYS) and isinstance(v, str)
            else mask_contact_details(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask_contact_details(v) for v in data]
    return data
