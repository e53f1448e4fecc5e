"""Events published by the engagement service on ``crm.engagement.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

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
