"""Interaction use cases: log one, list a customer's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from crm_common.auth import Principal, Role
from crm_common.clock import utc_now
from crm_common.errors import Forbidden, NotFound
from crm_common.events.contracts.engagement import InteractionLogged
from crm_common.events.outbox import new_event
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.interaction import (
    CustomerRef,
    Interaction,
    InteractionKind,
    validate_interaction_text,
)
from crm_engagement.service.ports import CustomerRefRepository, InteractionRepository

EVENT_SOURCE = "crm/engagement"
_LOGGERS = {
    Role.SALES_REP,
    Role.SALES_MANAGER,
    Role.SERVICE_AGENT,
    Role.SERVICE_MANAGER,
    Role.ADMIN,
}


@dataclass(frozen=True, slots=True)
class LogInteractionCommand:
    customer_id: str
    kind: InteractionKind
    content: str
    occurred_at: datetime | None = None
    feedback: str | None = None
    objections: str | None = None
    next_steps: str | None = None
    participants: tuple[str, ...] = ()


def _may_see(principal: Principal, customer: CustomerRef) -> bool:
    """Sales reps see their own customers, managers their team's, everyone else all."""
    if principal.has_role(Role.ADMIN, Role.ANALYST, Role.SERVICE_AGENT, Role.SERVICE_MANAGER):
        return True
    if principal.has_role(Role.SALES_MANAGER) and principal.team:
        return customer.team == principal.team or customer.owner_id == principal.user_id
    return customer.owner_id == principal.user_id


class InteractionService:
    def __init__(
        self,
        principal: Principal,
        customers: CustomerRefRepository,
        interactions: InteractionRepository,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._customers = customers
        self._interactions = interactions
        self._notify_outbox = notify_outbox
        self._clock = clock

    async def _visible_customer(self, customer_id: str, field: str) -> CustomerRef:
        customer = await self._customers.get(customer_id)
        if customer is None or not _may_see(self._principal, customer):
            raise NotFound(f"customer {customer_id} not found", field=field)
        return customer

    async def log(self, command: LogInteractionCommand) -> Interaction:
        principal = self._principal
        if not principal.has_role(*_LOGGERS):
            raise Forbidden("your role may not log interactions")
        now = self._clock()
        occurred_at = command.occurred_at or now
        if occurred_at.tzinfo is None:
            occurred_at = occurred_at.replace(tzinfo=UTC)
        validate_interaction_text(
            content=command.content,
            occurred_at=occurred_at,
            now=now,
            feedback=command.feedback,
            objections=command.objections,
            next_steps=command.next_steps,
            participants=list(command.participants),
        )
        await self._visible_customer(command.customer_id, "input.customerId")
        interaction = Interaction(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            customer_id=command.customer_id,
            kind=command.kind,
            occurred_at=occurred_at,
            content=command.content.strip(),
            owner_id=principal.user_id,
            created_at=now,
            feedback=command.feedback,
            objections=command.objections,
            next_steps=command.next_steps,
            participants=tuple(p.strip() for p in command.participants),
        )
        event = new_event(
            InteractionLogged(
                interaction_id=interaction.id,
                customer_id=interaction.customer_id,
                kind=interaction.kind.value,
                occurred_at=interaction.occurred_at,
                owner_id=interaction.owner_id,
            ),
            source=EVENT_SOURCE,
            tenant_id=principal.tenant_id,
            key=interaction.customer_id,
        )
        await self._interactions.add(interaction, [event])
        self._notify_outbox()
        return interaction

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[Interaction]:
        customer = await self._customers.get(customer_id)
        if customer is None or not _may_see(self._principal, customer):
            return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)
        return await self._interactions.for_customer(customer_id, page)

    async def get(self, interaction_id: str) -> Interaction | None:
        interaction = await self._interactions.get(interaction_id)
        if interaction is None:
            return None
        customer = await self._customers.get(interaction.customer_id)
        if customer is None or not _may_see(self._principal, customer):
            return None
        return interaction
