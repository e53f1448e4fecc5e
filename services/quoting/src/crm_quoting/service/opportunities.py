"""Opportunity use cases: open one, read one, list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.pagination import Page, PageRequest
from crm_quoting.domain.opportunity import INITIAL_STAGE, Opportunity, validate_new_opportunity
from crm_quoting.domain.permissions import can_create, visibility
from crm_quoting.service.ports import OpportunityRepository


@dataclass(frozen=True, slots=True)
class CreateOpportunityCommand:
    customer_id: str
    name: str


class OpportunityService:
    """Use cases for one request's principal; the repository is bound to its tenant."""

    def __init__(
        self,
        principal: Principal,
        repository: OpportunityRepository,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._repo = repository
        self._clock = clock

    async def create(self, command: CreateOpportunityCommand) -> Opportunity:
        principal = self._principal
        can_create(principal)
        new = validate_new_opportunity(customer_id=command.customer_id, name=command.name)
        opportunity = Opportunity(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            customer_id=new.customer_id,
            name=new.name,
            stage=INITIAL_STAGE,
            owner_id=principal.user_id,
            created_at=self._clock(),
        )
        # No quoting event contract exists yet: a plain insert (no outbox) for now.
        await self._repo.add(opportunity)
        return opportunity

    async def get(self, opportunity_id: str) -> Opportunity | None:
        return await self._repo.get(opportunity_id, visibility(self._principal))

    async def list(self, customer_id: str | None, page: PageRequest) -> Page[Opportunity]:
        return await self._repo.list(customer_id, page, visibility(self._principal))
