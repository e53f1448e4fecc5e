"""Events published by the customer service on ``crm.customer.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from crm_common.events.contracts.base import EventData

TOPIC = "crm.customer.v1"


class CustomerCreated(EventData):
    """A customer profile was registered (it starts in review)."""

    event_type: ClassVar[str] = "crm.customer.created"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    number: str
    name: str
    status: str
    owner_id: str
    team: str | None = None
    created_at: datetime


class CustomerStatusChanged(EventData):
    """The lifecycle status moved (e.g. LEAD → INTENTION, any → CHURNED), by whom and why."""

    event_type: ClassVar[str] = "crm.customer.status_changed"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    from_status: str
    to_status: str
    actor_id: str
    reason: str | None = None
    changed_at: datetime


class CustomerMerged(EventData):
    """``merged_id`` was merged into ``kept_id``; every service re-points its records."""

    event_type: ClassVar[str] = "crm.customer.merged"
    topic: ClassVar[str] = TOPIC

    kept_id: str
    merged_id: str
    actor_id: str
    merged_at: datetime
