"""Report use cases: read the tenant's read models."""

from __future__ import annotations

from crm_common.auth import Principal
from crm_insights.domain.customer_counts import CustomerCounts, summarize
from crm_insights.domain.permissions import can_read_reports
from crm_insights.service.ports import CustomerCountRepository


class ReportService:
    """Use cases for one request's principal; the repository is bound to its tenant."""

    def __init__(self, principal: Principal, counts: CustomerCountRepository) -> None:
        self._principal = principal
        self._counts = counts

    async def customer_counts(self) -> CustomerCounts:
        can_read_reports(self._principal)
        return summarize(await self._counts.counts_by_status())
