"""Wires the events insights consumes to its use cases."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent
from crm_insights.adapters.mongo import MongoCustomerCountRepository
from crm_insights.service.customer_events import on_customer_created

SUBSCRIBED_TOPICS = ["crm.customer.v1"]


def handlers(db: AsyncDatabase[dict[str, Any]]) -> dict[str, Handler]:
    def counts(tenant_id: str) -> MongoCustomerCountRepository:
        return MongoCustomerCountRepository(db, tenant_id)

    async def customer_created(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerCreated)
        await on_customer_created(event, payload, counts)

    return {CustomerCreated.event_type: customer_created}
