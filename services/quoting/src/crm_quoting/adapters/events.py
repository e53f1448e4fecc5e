"""Wires the events quoting consumes (``crm.customer.v1``) to its reactions."""

from __future__ import annotations

from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import (
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerRestored,
)
from crm_common.events.envelope import CloudEvent
from crm_quoting.service.reactions import CustomerReactions

SUBSCRIBED_TOPICS = [CustomerCreated.topic]


def handlers(reactions: CustomerReactions) -> dict[str, Handler]:
    async def customer_created(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerCreated)
        await reactions.customer_created(event, payload)

    async def customer_deleted(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerDeleted)
        await reactions.customer_deleted(event, payload)

    async def customer_restored(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerRestored)
        await reactions.customer_restored(event, payload)

    async def customer_merged(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerMerged)
        await reactions.customer_merged(event, payload)

    return {
        CustomerCreated.event_type: customer_created,
        CustomerDeleted.event_type: customer_deleted,
        CustomerRestored.event_type: customer_restored,
        CustomerMerged.event_type: customer_merged,
    }
