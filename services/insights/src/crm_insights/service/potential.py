"""Customer potential (model potential-v2, `domain.potential`) as readers see it: one
customer's (``Customer.potential``, batched) and the ranking of customers by one dimension."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from crm_common.auth import Principal
from crm_common.errors import BadUserInput
from crm_insights.domain.permissions import can_see_potential, potential_list_scope
from crm_insights.domain.potential import Dimension
from crm_insights.service.ports import HealthReader, HealthRecord

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class RankingPage:
    records: tuple[HealthRecord, ...]
    offset: int
    has_next: bool
    total: int


class PotentialQueries(Protocol):
    async def ranking(
        self,
        dimension: Dimension,
        owner_id: str | None,
        team: str | None,
        offset: int,
        limit: int,
    ) -> list[HealthRecord]:
        """Scored customers of the tenant by ``dimension``, highest first (then by id)."""

    async def count(self, dimension: Dimension, owner_id: str | None, team: str | None) -> int:
        """How many customers the ranking holds."""


class PotentialService:
    def __init__(
        self, principal: Principal, reader: HealthReader, queries: PotentialQueries
    ) -> None:
        self._principal = principal
        self._reader = reader
        self._queries = queries

    async def potential_of(self, customer_ids: Sequence[str]) -> list[HealthRecord | None]:
        """One read for the batch; ``None`` where unscored, not scored (deleted) or not the
        caller's to see."""
        found = await self._reader.health_of(customer_ids)
        results: list[HealthRecord | None] = []
        for customer_id in customer_ids:
            record = found.get(customer_id)
            visible = (
                record is not None
                and record.potential_scores is not None
                and can_see_potential(self._principal, record.owner_id, record.team)
            )
            results.append(record if visible else None)
        return results

    async def ranking(
        self,
        dimension: Dimension,
        owner_id: str | None,
        team: str | None,
        first: int,
        offset: int,
    ) -> RankingPage:
        if not 1 <= first <= MAX_PAGE:
            raise BadUserInput(f"first must be between 1 and {MAX_PAGE}", field="first")
        if offset < 0:
            raise BadUserInput("the cursor is not one this list gave", field="after")
        owner_id, team = potential_list_scope(self._principal, owner_id, team)
        rows = await self._queries.ranking(dimension, owner_id, team, offset, first + 1)
        total = await self._queries.count(dimension, owner_id, team)
        return RankingPage(tuple(rows[:first]), offset, len(rows) > first, total)
