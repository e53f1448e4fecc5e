"""What the service-desk use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

from typing import Any, Protocol

from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.ticket import Ticket


class TicketRepository(Protocol):
    tenant_id: str

    async def add(self, ticket: Ticket) -> None: ...

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def list(self, customer_id: str | None, page: PageRequest) -> Page[Ticket]:
        """Newest first; only one customer's when ``customer_id`` is given."""


class ServiceDeskServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def tickets(self, principal: Any) -> Any: ...
