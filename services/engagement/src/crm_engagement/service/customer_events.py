"""Reactions to the customer service's events: keep the local customer reference current."""

from __future__ import annotations

from collections.abc import Callable

from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent
from crm_engagement.domain.interaction import CustomerRef
from crm_engagement.service.ports import CustomerRefRepository


async def on_customer_created(
    event: CloudEvent,
    payload: CustomerCreated,
    refs_for_tenant: Callable[[str], CustomerRefRepository],
) -> None:
    refs = refs_for_tenant(event.tenant_id)
    await refs.upsert(
        CustomerRef(
            id=payload.customer_id,
            tenant_id=event.tenant_id,
            name=payload.name,
            owner_id=payload.owner_id,
            team=payload.team,
        ),
        event.time,
    )
