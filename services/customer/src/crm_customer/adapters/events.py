"""Wires the events the customer service consumes to its use cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.envelope import CloudEvent
from crm_customer.adapters.mongo import MongoCustomerRepository
from crm_customer.service.quote_events import on_quote_accepted

SUBSCRIBED_TOPICS = ["crm.quoting.v1"]


def handlers(
    db: AsyncDatabase[dict[str, Any]], notify_outbox: Callable[[], None]
) -> dict[str, Handler]:
    def repository(tenant_id: str) -> MongoCustomerRepository:
        return MongoCustomerRepository(db, tenant_id)

    async def quote_accepted(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, QuoteAccepted)
        await on_quote_accepted(event, payload, repository, notify_outbox)

    return {QuoteAccepted.event_type: quote_accepted}
