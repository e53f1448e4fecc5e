"""The observation-period report use case (`domain.observation`), scoped like every report."""

from __future__ import annotations

from typing import Protocol

from crm_common.auth import Principal
from crm_insights.domain.observation import ObservationReport
from crm_insights.domain.scope import ReportScope, scope_for


class ObservationQueries(Protocol):
    async def in_observation(self, scope: ReportScope) -> ObservationReport: ...


class ObservationService:
    def __init__(self, principal: Principal, queries: ObservationQueries) -> None:
        self._principal = principal
        self._queries = queries

    async def report(self, requested: ReportScope) -> ObservationReport:
        return await self._queries.in_observation(scope_for(self._principal, requested))
