"""Ticket use cases: open one, read one, list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.permissions import can_open, can_read
from crm_service_desk.domain.ticket import (
    INITIAL_STATUS,
    Ticket,
    TicketPriority,
    validate_new_ticket,
)
from crm_service_desk.service.ports import TicketRepository


@dataclass(frozen=True, slots=True)
class OpenTicketCommand:
    customer_id: str
    title: str
    priority: TicketPriority | None = None


class TicketService:
    """Use cases for one request's principal; the repository is bound to its tenant."""

    def __init__(
        self,
        principal: Principal,
        repository: TicketRepository,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._repo = repository
        self._clock = clock

    async def open(self, command: OpenTicketCommand) -> Ticket:
        principal = self._principal
        can_open(principal)
        new = validate_new_ticket(
            customer_id=command.customer_id, title=command.title, priority=command.priority
        )
        ticket = Ticket(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            customer_id=new.customer_id,
            title=new.title,
            priority=new.priority,
            status=INITIAL_STATUS,
            opened_by=principal.user_id,
            created_at=self._clock(),
        )
        # No service-desk event contract exists yet: a plain insert (no outbox) for now.
        await self._repo.add(ticket)
        return ticket

    async def get(self, ticket_id: str) -> Ticket | None:
        can_read(self._principal)
        return await self._repo.get(ticket_id)

    async def list(self, customer_id: str | None, page: PageRequest) -> Page[Ticket]:
        can_read(self._principal)
        return await self._repo.list(customer_id, page)
