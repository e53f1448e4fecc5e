"""What every engagement use case shares: who is calling, their stores, access checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_common.auth import Principal, Role
from crm_common.clock import utc_now
from crm_common.customers.copies import arriving_customer
from crm_common.errors import Forbidden, NotFound
from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_engagement.domain.interaction import CustomerRef
from crm_engagement.domain.permissions import (
    WRITE,
    may_see,
    may_write,
    sees_everything,
    sees_nothing,
)
from crm_engagement.service.ports import TenantStores

EVENT_SOURCE = "crm/engagement"


class UseCase:
    def __init__(
        self,
        principal: Principal,
        stores: TenantStores,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._stores = stores
        self._notify_outbox = notify_outbox
        self._clock = clock

    @property
    def principal(self) -> Principal:
        return self._principal

    def _event(self, payload: EventData, customer_id: str) -> CloudEvent:
        return new_event(
            payload, source=EVENT_SOURCE, tenant_id=self._principal.tenant_id, key=customer_id
        )

    async def _visible_customer(self, customer_id: str, field: str) -> CustomerRef:
        customer = await self._stores.customers.get(customer_id)
        if customer is None or not may_see(self._principal, customer):
            raise NotFound(f"customer {customer_id} not found", field=field)
        return customer

    async def _writable_customer(
        self, customer_id: str, field: str, permission: str = WRITE
    ) -> CustomerRef:
        # A customer created a moment ago may not have reached the copy yet: wait briefly,
        # then answer CUSTOMER_NOT_READY (retryable) rather than "not found".
        customer = await arriving_customer(self._stores.customers.get, customer_id, field=field)
        if not may_see(self._principal, customer):
            raise NotFound(f"customer {customer_id} not found", field=field)
        if not may_write(self._principal, customer, permission):
            raise Forbidden(
                f"you may not change this customer's engagement records (needs {permission})",
                permission=permission,
            )
        return customer

    async def _may_see_id(self, customer_id: str) -> bool:
        customer = await self._stores.customers.get(customer_id)
        return customer is not None and may_see(self._principal, customer)

    async def _visible_customer_ids(self) -> list[str] | None:
        """None when the caller sees every customer of the tenant, else the ids they see."""
        principal = self._principal
        if sees_nothing(principal):
            return []
        if sees_everything(principal):
            return None
        # A team widens the view of sales managers only (as `may_see`): a rep with a team
        # sees their own customers, not their teammates'.
        team = principal.team if principal.has_role(Role.SALES_MANAGER) else None
        return await self._stores.customers.visible_ids(principal.user_id, team)
