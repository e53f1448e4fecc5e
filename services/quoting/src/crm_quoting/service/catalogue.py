"""Solution library, needs and quoting settings use cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import Conflict, NotFound
from crm_quoting.domain.assessment import validate_observation_after_days
from crm_quoting.domain.catalogue import (
    DESCRIPTION_MAX,
    CatalogueItem,
    Need,
    NeedCategory,
    PriceVersion,
    Solution,
    SolutionKind,
    clean_text,
    match_solutions,
    validate_code,
    validate_price,
)
from crm_quoting.domain.money import parse_basis_points
from crm_quoting.domain.permissions import can_change, can_manage_catalogue, visibility
from crm_quoting.service.ports import CatalogueRepository, OpportunityRepository, QuotingSettings

DEFAULT_COMPANY = QuotingSettings(
    auto_approve_below_bp=500, company_name="", company_address="", company_phone=""
)


@dataclass(frozen=True, slots=True)
class AddItemCommand:
    solution_id: str
    code: str
    name: str
    unit: str
    list_price_minor: str | int
    currency: str
    tax_rate_bp: int


@dataclass(frozen=True, slots=True)
class SettingsCommand:
    auto_approve_below_bp: int | None = None
    company_name: str | None = None
    company_address: str | None = None
    company_phone: str | None = None
    observation_after_days: int | None = None


class CatalogueService:
    def __init__(
        self,
        principal: Principal,
        repository: CatalogueRepository,
        opportunities: OpportunityRepository,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._repo = repository
        self._opportunities = opportunities
        self._clock = clock

    async def create_solution(self, name: str, kind: SolutionKind, description: str) -> Solution:
        can_manage_catalogue(self._principal)
        solution = Solution(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            name=clean_text(name, "input.name"),
            kind=kind,
            description=clean_text(
                description, "input.description", limit=DESCRIPTION_MAX, required=False
            ),
            created_at=self._clock(),
        )
        await self._repo.add_solution(solution)
        return solution

    async def add_item(self, command: AddItemCommand) -> CatalogueItem:
        can_manage_catalogue(self._principal)
        code = validate_code(command.code)
        name = clean_text(command.name, "input.name")
        unit = clean_text(command.unit, "input.unit", limit=20)
        price, tax = validate_price(command.list_price_minor, command.currency, command.tax_rate_bp)
        if await self._repo.get_solution(command.solution_id) is None:
            raise NotFound("no such solution", field="input.solutionId")
        now = self._clock()
        item = CatalogueItem(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            solution_id=command.solution_id,
            code=code,
            name=name,
            unit=unit,
            prices=(PriceVersion(1, price, tax, now, self._principal.user_id),),
            created_at=now,
        )
        await self._repo.add_item(item)
        return item

    async def set_price(
        self, item_id: str, list_price_minor: str | int, currency: str, tax_rate_bp: int
    ) -> CatalogueItem:
        """A new price version; quotes made earlier keep the version they were made with."""
        can_manage_catalogue(self._principal)
        price, tax = validate_price(list_price_minor, currency, tax_rate_bp)
        item = (await self._repo.items_by_id([item_id])).get(item_id)
        if item is None:
            raise NotFound("no such catalogue item", field="input.itemId")
        version = PriceVersion(
            item.current_price.version + 1, price, tax, self._clock(), self._principal.user_id
        )
        if not await self._repo.add_price(item.id, item.current_price.version, version):
            raise Conflict("the price was changed meanwhile; reload and try again")
        return CatalogueItem(
            id=item.id,
            tenant_id=item.tenant_id,
            solution_id=item.solution_id,
            code=item.code,
            name=item.name,
            unit=item.unit,
            prices=(*item.prices, version),
            created_at=item.created_at,
        )

    async def solutions(self) -> list[Solution]:
        visibility(self._principal)  # any sales-data reader may browse the library
        return await self._repo.solutions()

    async def items(self, solution_id: str | None) -> list[CatalogueItem]:
        visibility(self._principal)
        return await self._repo.items(solution_id)

    async def add_need(self, opportunity_id: str, category: NeedCategory, description: str) -> Need:
        opportunity = await self._opportunities.get(opportunity_id, visibility(self._principal))
        if opportunity is None:
            raise NotFound("no such opportunity", field="input.opportunityId")
        can_change(self._principal)
        need = Need(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            opportunity_id=opportunity.id,
            category=category,
            description=clean_text(description, "input.description", limit=DESCRIPTION_MAX),
            created_by=self._principal.user_id,
            created_at=self._clock(),
        )
        await self._repo.add_need(need)
        return need

    async def needs(self, opportunity_id: str) -> list[Need]:
        """Needs of an opportunity the caller can see (the caller resolved it already)."""
        return await self._repo.needs(opportunity_id)

    async def matching_solutions(self, need: Need) -> list[Solution]:
        return match_solutions(need, await self._repo.solutions())

    async def settings(self) -> QuotingSettings:
        visibility(self._principal)
        return await self._repo.settings()

    async def update_settings(self, command: SettingsCommand) -> QuotingSettings:
        can_manage_catalogue(self._principal)
        current = await self._repo.settings()
        threshold = current.auto_approve_below_bp
        if command.auto_approve_below_bp is not None:
            threshold = parse_basis_points(
                command.auto_approve_below_bp,
                "input.autoApproveDiscountBelowBp",
                what="autoApproveDiscountBelowBp",
            )

        def text(new: str | None, old: str, field: str) -> str:
            return old if new is None else clean_text(new, field, required=False)

        updated = QuotingSettings(
            auto_approve_below_bp=threshold,
            company_name=text(command.company_name, current.company_name, "input.companyName"),
            company_address=text(
                command.company_address, current.company_address, "input.companyAddress"
            ),
            company_phone=text(command.company_phone, current.company_phone, "input.companyPhone"),
            observation_after_days=current.observation_after_days
            if command.observation_after_days is None
            else validate_observation_after_days(
                command.observation_after_days, "input.observationAfterDays"
            ),
        )
        await self._repo.save_settings(updated)
        return updated
