"""Wires the events quoting consumes (``crm.customer.v1``) to its reactions.

Every customer event that changes what quoting copies of customers (owner and team decide who
sees an opportunity; deleted / merged whether one may be opened) goes to the shared customer
copy (`crm_common.customers.copies`); a merge then re-points opportunities and quotes.
"""

from __future__ import annotations

from collections.abc import Callable

from crm_common.customers.copies import CustomerCopy, customer_copy_handlers
from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC, CustomerMerged
from crm_common.events.envelope import CloudEvent
from crm_quoting.service.reactions import CustomerReactions

SUBSCRIBED_TOPICS = [TOPIC]


def handlers(
    reactions: CustomerReactions, copies: Callable[[str], CustomerCopy]
) -> dict[str, Handler]:
    async def customer_merged(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerMerged)
        await reactions.customer_merged(event, payload)

    return customer_copy_handlers(copies, {CustomerMerged.event_type: customer_merged})
