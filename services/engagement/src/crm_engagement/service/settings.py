"""Per-tenant engagement settings and the customer priority that drives the cadence."""

from __future__ import annotations

from crm_engagement.domain.followup import EngagementSettings, Priority, validate_settings
from crm_engagement.domain.interaction import CustomerRef
from crm_engagement.domain.permissions import require_admin
from crm_engagement.service.base import UseCase


class SettingsService(UseCase):
    async def get(self) -> EngagementSettings:
        return await self._stores.settings.get()

    async def update(self, settings: EngagementSettings) -> EngagementSettings:
        require_admin(self._principal, "change the engagement settings")
        validate_settings(settings)
        await self._stores.settings.save(settings)
        return settings

    async def set_customer_priority(self, customer_id: str, priority: Priority) -> CustomerRef:
        """How often this customer should be touched (high weekly, medium biweekly, low monthly)."""
        customer = await self._writable_customer(customer_id, "input.customerId")
        await self._stores.customers.set_priority(customer.id, priority.value)
        updated = await self._stores.customers.get(customer.id)
        assert updated is not None
        return updated
