"""Customer health as other subgraphs' ``Customer`` shows it (``Customer.health``)."""

from __future__ import annotations

from collections.abc import Sequence

from crm_common.auth import Principal
from crm_insights.domain.permissions import can_see_health
from crm_insights.service.ports import HealthReader, HealthRecord


class HealthService:
    def __init__(self, principal: Principal, reader: HealthReader) -> None:
        self._principal = principal
        self._reader = reader

    async def health_of(self, customer_ids: Sequence[str]) -> list[HealthRecord | None]:
        """One read for the whole batch; ``None`` where unscored or not the caller's to see."""
        found = await self._reader.health_of(customer_ids)
        results: list[HealthRecord | None] = []
        for customer_id in customer_ids:
            record = found.get(customer_id)
            visible = (
                record is not None
                and record.computed_at is not None
                and can_see_health(self._principal, record.owner_id)
            )
            results.append(record if visible else None)
        return results
