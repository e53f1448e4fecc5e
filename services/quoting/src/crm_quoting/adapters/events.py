"""Wires the events quoting consumes (``crm.customer.v1``) to its reactions.

Every customer event that changes what quoting copies of customers (owner and team decide who
sees an opportunity; deleted / merged whether one may be opened) goes to the shared customer
copy (`crm_common.customers.copies`); a merge then re-points opportunities and quotes.
"""

from __future__ import annotations

from collections.abc import Callable

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.customers.copies import CustomerCopy, customer_copy_handlers
from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC, CustomerMerged
from crm_common.events.envelope import CloudEvent
from crm_common.mongo import Document
from crm_common.tenants import TenantZones, tenant_settings_handlers
from crm_quoting.adapters.mongo import customer_records
from crm_quoting.service.reactions import CustomerReactions

SUBSCRIBED_TOPICS = [TOPIC]


def handlers(
    reactions: CustomerReactions, copies: Callable[[str], CustomerCopy]
) -> dict[str, Handler]:
    async def customer_merged(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerMerged)
        await reactions.customer_merged(event, payload)

    return customer_copy_handlers(copies, {CustomerMerged.event_type: customer_merged})


def consumer_handlers(db: AsyncDatabase[Document], zones: TenantZones) -> dict[str, Handler]:
    """The consumer's handlers bound to ``db`` (live, or a rebuild: `adapters.replay`): the
    customer copy (who sees which opportunities: the customer's current owner/team;
    createOpportunity refuses customers this tenant does not have), merge re-pointing, and
    the tenant settings copy."""
    reactions = CustomerReactions(records=lambda tenant: customer_records(db, tenant))

    def copies(tenant: str) -> CustomerCopy:
        return CustomerCopy(db, tenant)

    return {**handlers(reactions, copies), **tenant_settings_handlers(db, zones)}
