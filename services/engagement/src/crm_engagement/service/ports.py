"""What the engagement use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.interaction import CustomerRef, Interaction


class CustomerRefRepository(Protocol):
    async def get(self, customer_id: str) -> CustomerRef | None: ...

    async def upsert(self, ref: CustomerRef, event_time: Any) -> None:
        """Store the reference unless a newer event already updated it."""


class InteractionRepository(Protocol):
    async def add(self, interaction: Interaction, events: Sequence[CloudEvent]) -> None: ...

    async def get(self, interaction_id: str) -> Interaction | None: ...

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[Interaction]: ...


class EngagementServices(Protocol):
    def interactions(self, principal: Any) -> Any: ...
