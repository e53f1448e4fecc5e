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
