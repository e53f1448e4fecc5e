"""The 24-hour rules reported per rep (`domain.timeliness`), scoped by role: a sales rep sees
their own figures, a sales manager their team's (the interactions with and first touches of
the team's customers), who sees the whole tenant (admin, analyst, service roles) all reps."""

from __future__ import annotations

from datetime import datetime

from crm_common.auth import Role
from crm_common.errors import Forbidden
from crm_engagement.domain.interaction import as_utc
from crm_engagement.domain.permissions import sees_everything, sees_nothing
from crm_engagement.domain.timeliness import (
    TimelinessReport,
    contact_timeliness,
    validate_period,
)
from crm_engagement.service.base import UseCase
from crm_engagement.service.ports import InteractionQuery


class TimelinessService(UseCase):
    async def report(self, period_from: datetime, period_to: datetime) -> TimelinessReport:
        validate_period(period_from, period_to)
        start, end = as_utc(period_from), as_utc(period_to)
        principal = self._principal
        owner: str | None = None
        customer_ids: list[str] | None = None
        if sees_nothing(principal):
            raise Forbidden(
                "you may not read the 24-hour report (needs engagement:read)",
                permission="engagement:read",
            )
        if sees_everything(principal):
            pass
        elif principal.has_role(Role.SALES_MANAGER) and principal.team:
            customer_ids = await self._stores.customers.visible_ids(
                principal.user_id, principal.team
            )
        elif principal.has_role(Role.SALES_REP, Role.SALES_MANAGER):
            owner = principal.user_id
        else:
            raise Forbidden("your role may not read the 24-hour report")
        report = TimelinessReport(period_from=start, period_to=end)
        query = InteractionQuery(
            customer_ids=customer_ids, owner_id=owner, occurred_from=start, occurred_to=end
        )
        every = await self._stores.interactions.count_by_owner(query, late_only=False)
        late = await self._stores.interactions.count_by_owner(query, late_only=True)
        for rep_id, n in every.items():
            figures = report.rep(rep_id)
            figures.entries_late = late.get(rep_id, 0)
            figures.entries_on_time = n - figures.entries_late
        now = self._clock()
        for rep_id, touched, contact in await self._stores.customers.first_touches(
            start, end, customer_ids
        ):
            if owner is not None and rep_id != owner:
                continue
            report.rep(rep_id or "unknown").count_contact(contact_timeliness(touched, contact, now))
        return report
