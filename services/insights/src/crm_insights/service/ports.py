"""What the insights use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

from typing import Any, Protocol

from crm_insights.domain.customer_counts import SeenCustomer


class CustomerCountRepository(Protocol):
    tenant_id: str

    async def record_new_customer(self, customer: SeenCustomer) -> None:
        """Count a customer once, however often its creation is delivered."""

    async def counts_by_status(self) -> dict[str, int]: ...


class InsightsServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def reports(self, principal: Any) -> Any: ...
