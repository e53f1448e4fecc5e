"""``observationReport``: customers in the observation period (观察期) per team and reason."""

from __future__ import annotations

import strawberry

from crm_insights.api.context import principal_of, services_of
from crm_insights.api.types import ReportFilter, report_scope
from crm_insights.domain.observation import ObservationReport as ObservationReportModel


@strawberry.type(description="Customers in observation of one team for one reason.")
class ObservationCount:
    team: str | None = strawberry.field(description="The customers' team; null if none.")
    reason: str = strawberry.field(
        description="Why they are in observation: LOW_FIT, NO_PROGRESS or MANUAL."
    )
    count: int = strawberry.field(description="How many customers.")


@strawberry.type(
    description="Customers in the observation period (观察期) now, per team and reason."
)
class ObservationReport:
    total: int = strawberry.field(description="All customers in observation in the scope.")
    rows: list[ObservationCount] = strawberry.field(
        description="Per team and reason, the largest first."
    )

    @classmethod
    def of(cls, model: ObservationReportModel) -> ObservationReport:
        return cls(
            total=model.total,
            rows=[
                ObservationCount(team=r.team, reason=r.reason, count=r.count) for r in model.rows
            ],
        )


async def observation_report(
    info: strawberry.Info, filter: ReportFilter | None = None
) -> ObservationReport:
    scope = await report_scope(info, filter)
    service = services_of(info).observation(principal_of(info))
    return ObservationReport.of(await service.report(scope))


OBSERVATION_REPORT_DESCRIPTION = (
    "Customers in the observation period (观察期) now, per team and reason (the state now: "
    "the filter's time range does not apply; owner, team, type and region do)."
)
