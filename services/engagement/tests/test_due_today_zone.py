"""``myFollowUps(due: TODAY)``: the tenant's local day, as UTC bounds (23 or 25 hours long
around daylight-saving changes); without a zone lookup, the UTC day as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from crm_common.auth import Principal, Role
from crm_common.pagination import Page, PageRequest
from crm_engagement.service.followups import DueWindow, FollowUpService
from crm_engagement.service.ports import FollowUpQuery, TenantStores


class CapturingFollowUps:
    def __init__(self) -> None:
        self.queries: list[FollowUpQuery] = []

    async def list(self, query: FollowUpQuery, page: PageRequest) -> Page[Any]:
        self.queries.append(query)
        return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)


def _window(now: datetime, zone: ZoneInfo | None) -> tuple[CapturingFollowUps, FollowUpService]:
    followups = CapturingFollowUps()

    async def zone_of() -> ZoneInfo:
        assert zone is not None
        return zone

    stores = TenantStores(
        customers=None,  # type: ignore[arg-type]
        interactions=None,  # type: ignore[arg-type]
        followups=followups,  # type: ignore[arg-type]
        activities=None,  # type: ignore[arg-type]
        timeline=None,  # type: ignore[arg-type]
        settings=None,  # type: ignore[arg-type]
        records=None,  # type: ignore[arg-type]
        care=None,  # type: ignore[arg-type]
        zone=zone_of if zone is not None else None,
    )
    principal = Principal(tenant_id="t1", user_id="rep", roles=frozenset({Role.SALES_REP}))
    service = FollowUpService(principal, stores, lambda: None, clock=lambda: now)
    return followups, service


async def _today(now: datetime, zone: ZoneInfo | None) -> tuple[datetime | None, datetime | None]:
    followups, service = _window(now, zone)
    await service.mine(DueWindow.TODAY, PageRequest(first=10))
    query = followups.queries[-1]
    return query.due_from, query.due_before


async def test_today_is_the_tenants_local_day() -> None:
    # 01:30 on 2026-12-05 in Shanghai is still the 4th in UTC.
    now = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    assert await _today(now, ZoneInfo("Asia/Shanghai")) == (
        datetime(2026, 12, 4, 16, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 16, 0, tzinfo=UTC),
    )
    assert await _today(now, None) == (
        datetime(2026, 12, 4, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 0, 0, tzinfo=UTC),
    )


async def test_today_around_daylight_saving_in_new_york() -> None:
    # 2026-03-08 12:00 UTC: that Sunday lasts 23 hours in New York.
    now = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert await _today(now, ZoneInfo("America/New_York")) == (
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
    )
