"""Report periods in the tenant's time zone: keys computed when an event is applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from crm_common.events.contracts import customer as c
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.periods import Bucket, bucket_fields, bucket_key
from crm_insights.service.ports import FactChange
from crm_insights.service.projections import apply_events

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
