"""What the quoting use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

from typing import Any, Protocol

from crm_common.pagination import Page, PageRequest
from crm_quoting.domain.opportunity import Opportunity
from crm_quoting.domain.permissions import Visibility


class OpportunityRepository(Protocol):
    tenant_id: str

    async def add(self, opportunity: Opportunity) -> None: ...

    async def get(self, opportunity_id: str, visibility: Visibility) -> Opportunity | None: ...

    async def list(
        self, customer_id: str | None, page: PageRequest, visibility: Visibility
    ) -> Page[Opportunity]:
        """Newest first; only one customer's when ``customer_id`` is given."""


class QuotingServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def opportunities(self, principal: Any) -> Any: ...
