"""Use cases of the service and effectiveness reports: churn and complaint rates over time,
activity effectiveness, improvement-task status, CSAT per channel. Scoped like every report
(`domain.scope`): report readers see the tenant, a sales rep their own numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import BadUserInput
from crm_insights.domain.periods import Bucket, bucket_key
from crm_insights.domain.scope import ReportScope, scope_for
from crm_insights.domain.service_reports import (
    MAX_WITHIN_DAYS,
    ActivityEffectiveness,
    ChurnRate,
    ComplaintRate,
    CsatByChannel,
    CustomerAfter,
    ImprovementTaskStatus,
    Registration,
    activity_effectiveness,
    churn_rate,
    complaint_rate,
    csat_by_channel,
    improvement_task_status,
)


class ServiceReportQueries(Protocol):
    async def churn_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[dict[str, int], dict[tuple[str, str, str], int]]: ...

    async def complaint_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[dict[tuple[str, str], int], dict[str, int]]: ...

    async def activity_figures(
        self, scope: ReportScope
    ) -> tuple[list[Registration], dict[str, CustomerAfter]]: ...

    async def task_figures(
        self, scope: ReportScope, now: datetime
    ) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, int]]: ...

    async def channel_figures(
        self, scope: ReportScope
    ) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]: ...


class ServiceReportService:
    def __init__(
        self,
        principal: Principal,
        queries: ServiceReportQueries,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._queries = queries
        self._clock = clock

    def _scope(self, requested: ReportScope) -> ReportScope:
        return scope_for(self._principal, requested)

    async def churn_rate(self, requested: ReportScope, bucket: Bucket) -> ChurnRate:
        scope = self._scope(requested)
        created, moves = await self._queries.churn_figures(scope, bucket)
        # The edge periods are keyed like the facts: local to the tenant.
        first = bucket_key(scope.start, bucket, scope.zone) if scope.start else None
        last = (
            bucket_key(scope.end - timedelta(microseconds=1), bucket, scope.zone)
            if scope.end
            else None
        )
        return churn_rate(created, moves, first, last)

    async def complaint_rate(self, requested: ReportScope, bucket: Bucket) -> ComplaintRate:
        scope = self._scope(requested)
        return complaint_rate(*await self._queries.complaint_figures(scope, bucket))

    async def activity_effectiveness(
        self, requested: ReportScope, within_days: int
    ) -> ActivityEffectiveness:
        if not 1 <= within_days <= MAX_WITHIN_DAYS:
            raise BadUserInput(f"withinDays is from 1 to {MAX_WITHIN_DAYS}", field="withinDays")
        scope = self._scope(requested)
        registrations, after = await self._queries.activity_figures(scope)
        return activity_effectiveness(registrations, after, within_days)

    async def improvement_task_status(self, requested: ReportScope) -> ImprovementTaskStatus:
        scope = self._scope(requested)
        return improvement_task_status(*await self._queries.task_figures(scope, self._clock()))

    async def csat_by_channel(self, requested: ReportScope) -> CsatByChannel:
        scope = self._scope(requested)
        return csat_by_channel(*await self._queries.channel_figures(scope))
