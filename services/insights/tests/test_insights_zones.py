"""Report periods in the tenant's time zone: keys computed when an event is applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput
from crm_common.events.contracts import customer as c
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.periods import Bucket, bucket_fields, bucket_key
from crm_insights.domain.scope import ReportScope, report_window
from crm_insights.service.ports import FactChange
from crm_insights.service.projections import apply_events
from crm_insights.service.service_reports import ServiceReportService

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
# 2026-12-04 17:30 UTC = 2026-12-05 01:30 in Shanghai.
LATE_UTC = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)


def test_keys_default_to_utc() -> None:
    assert bucket_fields("created", LATE_UTC) == {
        "created_day": "2026-12-04",
        "created_week": "2026-W49",
        "created_month": "2026-12",
    }


def test_keys_in_a_zone() -> None:
    assert bucket_key(LATE_UTC, Bucket.DAY, SHANGHAI) == "2026-12-05"
    # The last evening of November in New York is December in UTC and Shanghai.
    evening = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert bucket_key(evening, Bucket.MONTH, NEW_YORK) == "2026-11"
    assert bucket_key(evening, Bucket.MONTH, SHANGHAI) == "2026-12"
    # A Sunday night in New York is Monday (the next ISO week) in UTC.
    sunday_night = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    assert bucket_key(sunday_night, Bucket.WEEK, NEW_YORK) == "2026-W49"
    assert bucket_key(sunday_night, Bucket.WEEK) == "2026-W50"


class Captured:
    def __init__(self) -> None:
        self.changes: list[tuple[str, FactChange]] = []

    async def write(
        self, changes: Sequence[tuple[str, FactChange]], dirty: Sequence[tuple[str, str]]
    ) -> None:
        self.changes.extend(changes)

    async def repoint_customer(self, tenant_id: str, merged_id: str, kept_id: str) -> None:
        raise AssertionError("no merge here")

    async def merged_into(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        return {}


async def test_projections_use_each_tenants_zone_once_per_batch() -> None:
    asked: list[str] = []
    zones: dict[str, tzinfo] = {"cn": SHANGHAI, "us": NEW_YORK}

    async def zone_of(tenant_id: str) -> tzinfo:
        asked.append(tenant_id)
        return zones[tenant_id]

    def created(customer_id: str, tenant: str) -> tuple[CloudEvent, c.CustomerCreated]:
        payload = c.CustomerCreated(
            customer_id=customer_id,
            number="CUS20261205001",
            name=customer_id,
            status="PENDING_REVIEW",
            owner_id="rep",
            created_at=LATE_UTC,
        )
        event = CloudEvent.new(payload, source="test", tenant_id=tenant, key=customer_id)
        return event, payload

    writer = Captured()
    batch = [created("a", "cn"), created("b", "us"), created("c", "cn")]
    await apply_events(batch, writer, zone_of=zone_of)
    days = {change.id: (change.values or {})["created_day"] for _, change in writer.changes}
    assert days == {"a": "2026-12-05", "b": "2026-12-04", "c": "2026-12-05"}
    assert asked == ["cn", "us"]


def test_a_report_window_of_local_days() -> None:
    # December 1st to 2nd in Shanghai: 2026-11-30 16:00 UTC up to 2026-12-02 16:00 UTC.
    start, end = report_window(
        start=None, end=None, first_day=date(2026, 12, 1), last_day=date(2026, 12, 2), zone=SHANGHAI
    )
    assert (start, end) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 2, 16, tzinfo=UTC),
    )
    # The day daylight saving ends in New York has 25 hours, and the window follows it.
    start, end = report_window(
        start=None, end=None, first_day=date(2026, 11, 1), last_day=date(2026, 11, 1), zone=NEW_YORK
    )
    assert start is not None and end is not None
    assert end - start == timedelta(hours=25)


def test_a_report_window_reads_wall_clock_times_locally_and_offsets_as_given() -> None:
    start, end = report_window(
        start=datetime(2026, 12, 5, 9, 0),
        end=datetime(2026, 12, 5, 18, 0, tzinfo=UTC),
        first_day=None,
        last_day=None,
        zone=SHANGHAI,
    )
    assert start == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert end == datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    assert report_window(start=None, end=None, first_day=None, last_day=None, zone=SHANGHAI) == (
        None,
        None,
    )


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"start": LATE_UTC, "first_day": date(2026, 12, 1)}, "filter.fromDate"),
        ({"end": LATE_UTC, "last_day": date(2026, 12, 1)}, "filter.toDate"),
        ({"first_day": date(2026, 12, 2), "last_day": date(2026, 12, 1)}, "filter.toDate"),
    ],
)
def test_a_report_window_refuses_contradictions(given: dict[str, Any], field: str) -> None:
    window: dict[str, Any] = {"start": None, "end": None, "first_day": None, "last_day": None}
    with pytest.raises(BadUserInput) as refused:
        report_window(**(window | given), zone=SHANGHAI)
    assert refused.value.field == field


async def test_the_churn_report_keys_its_edge_periods_in_the_tenants_zone() -> None:
    class NoFigures:
        async def churn_figures(
            self, scope: ReportScope, bucket: Bucket
        ) -> tuple[dict[str, int], dict[tuple[str, str, str], int]]:
            # Keys as the facts hold them: local days of the tenant.
            return {"2026-11-30": 1, "2026-12-01": 2, "2026-12-03": 1, "2026-12-04": 1}, {}

    admin = Principal(user_id="a", tenant_id="t1", roles=frozenset({Role.ADMIN}))
    service = ServiceReportService(admin, NoFigures())  # type: ignore[arg-type]
    start, end = report_window(
        start=None, end=None, first_day=date(2026, 12, 1), last_day=date(2026, 12, 3), zone=SHANGHAI
    )
    scope = ReportScope(tenant_id="t1", start=start, end=end, zone=SHANGHAI)
    report = await service.churn_rate(scope, Bucket.DAY)
    # In UTC the window would start on November 30th (16:00) and take that day in.
    assert [row.period for row in report.rows] == ["2026-12-01", "2026-12-03"]
    assert [row.customers_at_start for row in report.rows] == [1, 3]
