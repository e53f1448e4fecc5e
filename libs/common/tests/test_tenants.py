"""Tenant time zones: the local-date rules (pure), and the settings copy against the real
store (FerretDB): version-guarded apply with duplicates, out-of-order events and two replicas
applying at once; the cached lookup; tenant isolation; the default zone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.auth import Principal
from crm_common.events.contracts.customer import RolePermissionOverride, TenantSettingsChanged
from crm_common.events.outbox import new_event
from crm_common.localtime import (
    DEFAULT_TIME_ZONE,
    InvalidTimeZone,
    local_date,
    local_day_bounds,
    parse_time_zone,
    start_of_local_day,
)
from crm_common.mongo import Document, create_client
from crm_common.permissions import DEFAULT_MATRIX
from crm_common.tenants import (
    TenantSettingsCopy,
    TenantZones,
    apply_settings_event,
    tenant_settings_handlers,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")


# --- the date rules (pure) --------------------------------------------------------------------


def test_a_customer_created_at_0130_in_beijing_gets_that_days_date() -> None:
    created = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # 2026-12-05 01:30 Asia/Shanghai
    assert created.date() == date(2026, 12, 4)  # what the UTC rule gave
    assert local_date(created, SHANGHAI) == date(2026, 12, 5)
    assert f"CUS{local_date(created, SHANGHAI):%Y%m%d}001" == "CUS20261205001"


def test_naive_instants_are_utc() -> None:
    assert local_date(datetime(2026, 12, 4, 17, 30), SHANGHAI) == date(2026, 12, 5)


def test_local_days_as_utc_bounds() -> None:
    assert local_day_bounds(date(2026, 12, 5), SHANGHAI) == (
        datetime(2026, 12, 4, 16, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 16, 0, tzinfo=UTC),
    )


def test_new_york_days_around_daylight_saving() -> None:
    # 2026-03-08: clocks go 02:00 -> 03:00 (a 23-hour day); 2026-11-01: back (25 hours).
    start, end = local_day_bounds(date(2026, 3, 8), NEW_YORK)
    assert (start, end - start) == (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), timedelta(hours=23))
    start, end = local_day_bounds(date(2026, 11, 1), NEW_YORK)
    assert (start, end - start) == (datetime(2026, 11, 1, 4, 0, tzinfo=UTC), timedelta(hours=25))
    # 23:30 on the 7th in New York is already the 8th in UTC.
    assert local_date(datetime(2026, 3, 8, 4, 30, tzinfo=UTC), NEW_YORK) == date(2026, 3, 7)
    assert local_date(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), NEW_YORK) == date(2026, 3, 8)


def test_a_skipped_midnight_starts_the_day_at_the_jump() -> None:
    # Santiago moves 2026-09-06 00:00 -> 01:00: the day starts at the jump, 04:00 UTC.
    assert start_of_local_day(date(2026, 9, 6), SANTIAGO) == datetime(2026, 9, 6, 4, tzinfo=UTC)
    start, end = local_day_bounds(date(2026, 9, 6), SANTIAGO)
    assert end - start == timedelta(hours=23)
    # ... and 2026-04-04 lasts 25 hours (23:00-24:00 twice).
    start, end = local_day_bounds(date(2026, 4, 4), SANTIAGO)
    assert end - start == timedelta(hours=25)


def test_only_iana_names_are_zones() -> None:
    assert parse_time_zone(" America/New_York ").key == "America/New_York"
    assert parse_time_zone("UTC").key == "UTC"
    for bad in ("", "Mars/Olympus", "+08:00", "UTC+8", "../etc/passwd", "/etc/localtime", "x" * 70):
        with pytest.raises(InvalidTimeZone):
            parse_time_zone(bad)


# --- the copy against the real store ------------------------------------------------------------


@pytest.fixture
async def db(infra: stack.StackConfig) -> AsyncIterator[AsyncDatabase[Document]]:
    client = create_client(infra.mongodb_uri, "tenants-test", max_pool_size=1)
    name = f"crm_test_tenants_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def _changed(version: int, zone: str) -> TenantSettingsChanged:
    return TenantSettingsChanged(
        time_zone=zone,
        version=version,
        actor_id="boss",
        changed_at=T0 + timedelta(minutes=version),
        previous_time_zone=None,
    )


@pytest.mark.e2e
async def test_the_copy_applies_only_newer_versions(db: AsyncDatabase[Document]) -> None:
    tenant, other = "t-zone", "t-other"
    zones = TenantZones(db)
    handle = tenant_settings_handlers(db, zones)[TenantSettingsChanged.event_type]

    async def deliver(payload: TenantSettingsChanged) -> None:
        event = new_event(payload, source="crm/customer", tenant_id=tenant, key=tenant)
        await handle(event, payload)

    # No settings: the default zone.
    assert (await zones.zone_of(tenant)).key == DEFAULT_TIME_ZONE
    await deliver(_changed(2, "America/New_York"))
    await deliver(_changed(1, "Europe/London"))  # late: older than what is held
    await deliver(_changed(2, "America/New_York"))  # redelivered
    held = await TenantSettingsCopy(db, tenant).get()
    assert (held.time_zone, held.version, held.updated_by) == ("America/New_York", 2, "boss")
    # The applying process forgot its cached default at once.
    assert (await zones.zone_of(tenant)).key == "America/New_York"
    await deliver(_changed(3, "Pacific/Kiritimati"))
    assert (await TenantSettingsCopy(db, tenant).get()).time_zone == "Pacific/Kiritimati"
    # Another tenant is untouched.
    assert (await TenantSettingsCopy(db, other).get()).version == 0
    assert (await zones.zone_of(other)).key == DEFAULT_TIME_ZONE


@pytest.mark.e2e
async def test_two_replicas_applying_at_once_end_at_the_newest(
    db: AsyncDatabase[Document], infra: stack.StackConfig
) -> None:
    """Two processes (own connections) receive the same events in different orders, as
    during a rebalance: whatever the interleaving, the copy ends at the highest version."""
    second = create_client(infra.mongodb_uri, "tenants-test-2", max_pool_size=1)
    try:
        replicas = [db, second[db.name]]
        tenant = "t-race"
        events = [_changed(v, z) for v, z in ((1, "UTC"), (2, "Asia/Tokyo"), (3, "Etc/GMT+12"))]

        async def replica(target: AsyncDatabase[Document], order: list[int]) -> None:
            for i in order:
                payload = events[i]
                event = new_event(payload, source="crm/customer", tenant_id=tenant, key=tenant)
                await apply_settings_event(target, event, payload)

        await asyncio.gather(replica(replicas[0], [0, 1, 2, 1]), replica(replicas[1], [2, 0, 1]))
        held = await TenantSettingsCopy(db, tenant).get()
        assert (held.time_zone, held.version) == ("Etc/GMT+12", 3)
    finally:
        await second.close()


@pytest.mark.e2e
async def test_the_cached_lookup_is_stale_for_at_most_its_ttl(
    db: AsyncDatabase[Document],
) -> None:
    clock = [0.0]
    zones = TenantZones(db, ttl_s=30, monotonic=lambda: clock[0])
    tenant = "t-cache"
    assert (await zones.zone_of(tenant)).key == DEFAULT_TIME_ZONE
    # Another replica applied a change: this process still has its cached answer ...
    payload = _changed(1, "America/New_York")
    event = new_event(payload, source="crm/customer", tenant_id=tenant, key=tenant)
    await apply_settings_event(db, event, payload)
    clock[0] = 29.0
    assert (await zones.zone_of(tenant)).key == DEFAULT_TIME_ZONE
    # ... until the TTL runs out.
    clock[0] = 30.5
    assert (await zones.zone_of(tenant)).key == "America/New_York"


@pytest.mark.e2e
async def test_role_permissions_travel_with_the_settings_and_authorize_requests(
    db: AsyncDatabase[Document],
) -> None:
    """The event's role overrides land in the copy; `authorize` gives a principal its roles'
    effective permissions in its tenant (cached like the zone); an older event (without
    overrides) read by this release holds none; another tenant keeps the defaults."""
    clock = [0.0]
    zones = TenantZones(db, ttl_s=30, monotonic=lambda: clock[0])
    tenant, other = "t-roles", "t-roles-other"
    rep = Principal(user_id="rep", tenant_id=tenant, roles=frozenset({"sales_rep"}))
    assert (await zones.authorize(rep)).held_permissions() == DEFAULT_MATRIX["sales_rep"]

    payload = TenantSettingsChanged(
        time_zone=DEFAULT_TIME_ZONE,
        version=1,
        actor_id="boss",
        changed_at=T0,
        role_permissions={
            "sales_rep": RolePermissionOverride(revokes=["quoting:create"]),
            "analyst": RolePermissionOverride(grants=["quoting:write"]),
        },
        changed_role="sales_rep",
    )
    event = new_event(payload, source="crm/customer", tenant_id=tenant, key=tenant)
    await apply_settings_event(db, event, payload, zones)  # the applying replica forgets
    held = await TenantSettingsCopy(db, tenant).get()
    assert held.role_overrides["sales_rep"].revokes == frozenset({"quoting:create"})
    authorized = await zones.authorize(rep)
    assert not authorized.may("quoting:create") and authorized.may("quoting:write")
    both = replace(rep, roles=frozenset({"sales_rep", "analyst"}))
    assert (await zones.authorize(both)).may("quoting:write")
    stranger = replace(rep, tenant_id=other)
    assert (await zones.authorize(stranger)).may("quoting:create")

    # A later event from a release without role permissions: the copy holds none.
    older_shape = TenantSettingsChanged(
        time_zone="UTC", version=2, actor_id="boss", changed_at=T0 + timedelta(minutes=2)
    )
    event = new_event(older_shape, source="crm/customer", tenant_id=tenant, key=tenant)
    await apply_settings_event(db, event, older_shape)  # another replica: this cache is stale
    assert not (await zones.authorize(rep)).may("quoting:create")
    clock[0] = 31.0
    assert (await zones.authorize(rep)).may("quoting:create")
