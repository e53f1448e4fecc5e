"""Reactions to the customer service's events: quoting's per-tenant copy of customers.

Quoting only needs to know which customers exist in a tenant (so an opportunity can never
name another tenant's or an invented customer). Every handler is idempotent: applying an event
again, or an older one after a newer one, leaves the copy as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from crm_common.events.contracts.customer import (
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerRestored,
)
from crm_common.events.envelope import CloudEvent
from crm_quoting.service.ports import CustomerRecords, CustomerRefRepository

log = logging.getLogger(__name__)


class CustomerReactions:
    def __init__(
        self,
        customers: Callable[[str], CustomerRefRepository],
        records: Callable[[str], CustomerRecords],
    ) -> None:
        self._customers = customers
        self._records = records

    async def customer_created(self, event: CloudEvent, payload: CustomerCreated) -> None:
        await self._customers(event.tenant_id).upsert(
            payload.customer_id, payload.name, payload.owner_id, payload.team, event.time
        )

    async def customer_deleted(self, event: CloudEvent, payload: CustomerDeleted) -> None:
        await self._customers(event.tenant_id).set_deleted(payload.customer_id, True, event.time)

    async def customer_restored(self, event: CloudEvent, payload: CustomerRestored) -> None:
        await self._customers(event.tenant_id).set_deleted(payload.customer_id, False, event.time)

    async def customer_merged(self, event: CloudEvent, payload: CustomerMerged) -> None:
        """The merged customer's opportunities and quotes now belong to the kept one."""
        await self._customers(event.tenant_id).mark_merged(payload.merged_id, payload.kept_id)
        moved = await self._records(event.tenant_id).repoint(payload.merged_id, payload.kept_id)
        log.info(
            "customer merged; records re-pointed",
            extra={"kept": payload.kept_id, "merged": payload.merged_id, "moved": moved},
        )
