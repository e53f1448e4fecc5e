"""Queries of the service and effectiveness reports (`domain.service_reports`), over the read
models of `service.service_projections` and the main ones. Same FerretDB rules as
`adapters.mongo`: one accumulator per ``$group``; per-document work (activity windows) in Python
over bounded lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from pymongo import ASCENDING, IndexModel

from crm_common.limits import check_limit, list_limits
from crm_insights.adapters.mongo import MongoReportQueries
from crm_insights.domain.periods import Bucket, bucket_field
from crm_insights.domain.scope import ReportScope
from crm_insights.domain.service_reports import (
    COMPLAINT,
    OPEN_TASK_STATUSES,
    CustomerAfter,
    Registration,
)
from crm_insights.service.ports import Fact

_by_customer = IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)])
INDEXES: dict[str, Sequence[IndexModel]] = {
    Fact.REGISTRATIONS: [
        _by_customer,
        IndexModel([("tenant_id", ASCENDING), ("starts_at", ASCENDING)]),
    ],
    Fact.STATUS_CHANGES: [
        _by_customer,
        IndexModel([("tenant_id", ASCENDING), ("changed_at", ASCENDING)]),
    ],
    Fact.IMPROVEMENT_TASKS: [
        _by_customer,
        IndexModel([("tenant_id", ASCENDING), ("opened_at", ASCENDING)]),
    ],
}


class MongoServiceReportQueries(MongoReportQueries):
    async def churn_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[dict[str, int], dict[tuple[str, str, str], int]]:
        """All time (the base of a period counts everything before it); the range only picks
        which periods are reported."""
        whole = replace(scope, start=None, end=None)
        created = await self._group(
            Fact.CUSTOMERS,
            await self._match(Fact.CUSTOMERS, whole, None),
            {"p": bucket_field("created", bucket)},
        )
        moves = await self._group(
            Fact.STATUS_CHANGES,
            await self._match(Fact.STATUS_CHANGES, whole, None),
            {"p": bucket_field("changed", bucket), "f": "from_status", "t": "to_status"},
        )
        return (
            {str(k[0]): n for k, n in created.items() if k[0]},
            {(str(p), str(f or ""), str(t or "")): n for (p, f, t), n in moves.items() if p},
        )

    async def complaint_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        match = await self._match(Fact.TICKETS, scope, "opened_at")
        period = bucket_field("opened", bucket)
        by_category = await self._group(Fact.TICKETS, match, {"p": period, "c": "category"})
        per_customer = await self._group(
            Fact.TICKETS, {**match, "category": COMPLAINT}, {"p": period, "k": "customer_id"}
        )
        complaining: dict[str, int] = defaultdict(int)
        for p, _ in per_customer:
            if p:
                complaining[str(p)] += 1
        return (
            {(str(p), str(c or "")): n for (p, c), n in by_category.items() if p},
            dict(complaining),
        )

    async def activity_figures(
        self, scope: ReportScope
    ) -> tuple[list[Registration], dict[str, CustomerAfter]]:
        """Registrations of the activities starting in the range, and what followed with the
        customers who attended (follow-ups scheduled, opportunities created, deals won)."""
        limit = list_limits().max_report_customers
        match = await self._match(Fact.REGISTRATIONS, scope, "starts_at")
        registrations = [
            Registration(
                activity_id=doc.get("activity_id") or "",
                title=doc.get("title"),
                kind=doc.get("activity_kind"),
                customer_id=doc.get("customer_id") or "",
                attended_at=doc.get("attended_at"),
            )
            async for doc in self._collection(Fact.REGISTRATIONS).find(
                match,
                {
                    "activity_id": 1,
                    "title": 1,
                    "activity_kind": 1,
                    "customer_id": 1,
                    "attended_at": 1,
                },
                limit=limit + 1,
            )
        ]
        check_limit(
            len(registrations),
            limit,
            "the activity registrations in the report's range",
            "CRM_MAX_REPORT_CUSTOMERS",
            "narrow the range or the filters",
        )
        attendees = sorted({r.customer_id for r in registrations if r.attended_at})
        if not attendees:
            return registrations, {}
        of_attendees = {"customer_id": {"$in": attendees}}
        followups: dict[str, list[datetime]] = defaultdict(list)
        async for doc in self._collection(Fact.FOLLOWUPS).find(
            {**of_attendees, "scheduled_at": {"$ne": None}}, {"customer_id": 1, "scheduled_at": 1}
        ):
            followups[doc["customer_id"]].append(doc["scheduled_at"])
        opportunities: dict[str, list[datetime]] = defaultdict(list)
        deals: dict[str, list[datetime]] = defaultdict(list)
        async for doc in self._collection(Fact.OPPORTUNITIES).find(
            of_attendees, {"customer_id": 1, "created_at": 1, "outcome": 1, "closed_at": 1}
        ):
            if doc.get("created_at"):
                opportunities[doc["customer_id"]].append(doc["created_at"])
            if doc.get("outcome") == "WON" and doc.get("closed_at"):
                deals[doc["customer_id"]].append(doc["closed_at"])
        return registrations, {
            customer: CustomerAfter(
                tuple(followups.get(customer, ())),
                tuple(opportunities.get(customer, ())),
                tuple(deals.get(customer, ())),
            )
            for customer in attendees
        }

    async def task_figures(
        self, scope: ReportScope, now: datetime
    ) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, int]]:
        """Tasks opened in the range: per (team, status); open past due and closed late per
        team."""
        match = await self._match(Fact.IMPROVEMENT_TASKS, scope, "opened_at")
        by_status = await self._group(Fact.IMPROVEMENT_TASKS, match, {"t": "team", "s": "status"})
        overdue = await self._group(
            Fact.IMPROVEMENT_TASKS,
            {**match, "status": {"$in": sorted(OPEN_TASK_STATUSES)}, "due_at": {"$lt": now}},
            {"t": "team"},
        )
        late = await self._group(
            Fact.IMPROVEMENT_TASKS, {**match, "status": "DONE", "closed_late": True}, {"t": "team"}
        )
        return (
            {(str(t or ""), str(s or "")): n for (t, s), n in by_status.items()},
            {str(k[0] or ""): n for k, n in overdue.items()},
            {str(k[0] or ""): n for k, n in late.items()},
        )

    async def channel_figures(
        self, scope: ReportScope
    ) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]:
        match = await self._match(Fact.SURVEYS, scope, "responded_at")
        match.setdefault("responded_at", {"$ne": None})
        keys = {"c": "channel"}

        # Per-document sums (no $unwind: FerretDB 1.24 grouped the unwound scores of every
        # channel under the first one in our test).
        async def per_channel(value: int | str) -> dict[str, int]:
            grouped = await self._group(Fact.SURVEYS, match, keys, value)
            return {str(k[0] or ""): n for k, n in grouped.items()}

        return (
            await per_channel(1),
            await per_channel("$score_count"),
            await per_channel("$score_sum"),
            await per_channel("$satisfied_count"),
        )
