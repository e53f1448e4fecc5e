"""Reactions to the customer service's events: keep the customer counts current."""

from __future__ import annotations

from collections.abc import Callable

from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.customer_counts import SeenCustomer
from crm_insights.service.ports import CustomerCountRepository


async def on_customer_created(
    event: CloudEvent,
    payload: CustomerCreated,
    counts_for_tenant: Callable[[str], CustomerCountRepository],
) -> None:
    counts = counts_for_tenant(event.tenant_id)
    await counts.record_new_customer(
        SeenCustomer(id=payload.customer_id, tenant_id=event.tenant_id, status=payload.status)
    )
