"""Events published by the quoting service on ``crm.quoting.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from crm_common.events.contracts.base import EventData

TOPIC = "crm.quoting.v1"


class QuoteAccepted(EventData):
    """The customer accepted a quote: the opportunity is won, the customer becomes a deal, and
    the service desk opens a service order (once per quote)."""

    event_type: ClassVar[str] = "crm.quoting.quote_accepted"
    topic: ClassVar[str] = TOPIC

    quote_id: str
    quote_number: str
    version: int
    opportunity_id: str
    customer_id: str
    owner_id: str
    total_minor: int
    currency: str
    accepted_at: datetime
