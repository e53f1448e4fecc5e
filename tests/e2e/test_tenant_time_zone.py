"""A tenant's time zone (issue 18.1), through the gateway.

"Now" is not ours to fix, so the test picks, from the current UTC time, zones whose local date
or local day differs from the default zone's (Asia/Shanghai), and checks what follows from that:
the customer number embeds the tenant's local date (customer service, the owner), and "due
today" in engagement follows the change (another service, through the settings event).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import stack

from crm_common.localtime import DEFAULT_TIME_ZONE, local_date
from tests.e2e.client import GraphQLClient, new_tenant
from tests.e2e.engagement_support import client, known_customer
from tests.support.replicas import until

pytestmark = [pytest.mark.e2e]

SETTINGS = """{ tenantSettings { timeZone version updatedBy
  changes { version actorId timeZoneBefore timeZoneAfter } } }"""
UPDATE = """mutation($i: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $i) { settings { timeZone version } } }"""
CREATE = """mutation($i: CreateCustomerInput!) {
  createCustomer(input: $i) { customer { number } } }"""
SCHEDULE = """mutation($i: ScheduleFollowUpInput!) {
  scheduleFollowUp(input: $i) { followUp { id } } }"""
TODAY = "{ myFollowUps(due: TODAY, first: 50) { edges { node { id } } } }"
DEFAULT = ZoneInfo(DEFAULT_TIME_ZONE)
# Zones that, between them, have a local date other than Shanghai's at any UTC hour.
FAR_ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Honolulu", "America/New_York")
DAY_ZONES = (
    "UTC",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Pacific/Honolulu",
    "America/New_York",
    "Europe/London",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def zone_with_other_date(now: datetime) -> ZoneInfo:
    """A zone whose local date now differs from the default zone's."""
    for name in FAR_ZONES:
        zone = ZoneInfo(name)
        if local_date(now, zone) != local_date(now, DEFAULT):
            return zone
    raise AssertionError(f"no zone with another date at {now}")  # pragma: no cover


def is_today(instant: datetime, now: datetime, zone: ZoneInfo) -> bool:
    return local_date(instant, zone) == local_date(now, zone)


def zone_and_due_time(now: datetime) -> tuple[ZoneInfo, datetime, bool]:
    """A zone and a future due time that is "today" in exactly one of it and the default
    zone; and whether it is today in the default zone."""
    for name in DAY_ZONES:
        zone = ZoneInfo(name)
        for half_hours in range(2, 96):
            due = now + timedelta(minutes=30 * half_hours)
            in_default = is_today(due, now, DEFAULT)
            if in_default != is_today(due, now, zone):
                return zone, due, in_default
    raise AssertionError(f"no zone/due time pair at {now}")  # pragma: no cover


async def _settings(gql: GraphQLClient) -> dict[str, object]:
    settings: dict[str, object] = (await gql.execute(SETTINGS)).ok()["tenantSettings"]
    return settings


async def _update(gql: GraphQLClient, zone: str) -> dict[str, object]:
    payload: dict[str, object] = (await gql.execute(UPDATE, {"i": {"timeZone": zone}})).ok()[
        "updateTenantSettings"
    ]["settings"]
    return payload


async def test_admin_sets_the_zone_and_numbers_follow(live_stack: stack.StackConfig) -> None:
    tenant, other = new_tenant(), new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")

    # A tenant that never set anything has the default zone; anyone may read it, only an
    # admin the audit trail.
    plain = (await rep.execute("{ tenantSettings { timeZone version } }")).ok()
    assert plain["tenantSettings"] == {"timeZone": DEFAULT_TIME_ZONE, "version": 0}
    assert (await rep.execute(SETTINGS)).error_codes() == ["FORBIDDEN"]
    assert await _settings(admin) == {
        "timeZone": DEFAULT_TIME_ZONE,
        "version": 0,
        "updatedBy": None,
        "changes": [],
    }

    # Only an admin changes it; a name that is not an IANA zone changes nothing.
    refused = await rep.execute(UPDATE, {"i": {"timeZone": "Europe/Berlin"}})
    assert refused.error_codes() == ["FORBIDDEN"]
    for bad in ("Mars/Olympus_Mons", "+08:00", "../../etc/passwd", ""):
        wrong = await admin.execute(UPDATE, {"i": {"timeZone": bad}})
        assert wrong.error_codes() == ["BAD_USER_INPUT"], (bad, wrong.body)
        assert wrong.errors[0]["extensions"]["field"] == "input.timeZone"
    unchanged = await _settings(admin)
    assert (unchanged["timeZone"], unchanged["version"]) == (DEFAULT_TIME_ZONE, 0)

    now = datetime.now(UTC)
    zone = zone_with_other_date(now)
    assert await _update(admin, zone.key) == {"timeZone": zone.key, "version": 1}
    audited = await _settings(admin)
    assert audited["timeZone"] == zone.key and audited["updatedBy"] == "boss"
    assert audited["changes"] == [
        {
            "version": 1,
            "actorId": "boss",
            "timeZoneBefore": DEFAULT_TIME_ZONE,
            "timeZoneAfter": zone.key,
        }
    ]
    # Setting the same zone again is no change: no new version.
    assert (await _update(admin, zone.key))["version"] == 1

    # The customer number embeds the tenant's local date, not the UTC (nor the default) one.
    # (Another replica may have the default cached for a new tenant for up to 30 s: poll.)
    numbers: list[str] = []

    async def numbered_locally() -> bool:
        created = await rep.execute(CREATE, {"i": {"name": f"Local Day Co {len(numbers)}"}})
        numbers.append(created.ok()["createCustomer"]["customer"]["number"])
        expected = f"CUS{local_date(datetime.now(UTC), zone):%Y%m%d}"
        return numbers[-1].startswith(expected)

    await until(numbered_locally, timeout_s=90, what="customer number in the tenant's date")

    # Another tenant keeps the default zone and its own dates.
    other_admin = client(live_stack, other, ["admin"])
    kept = (await other_admin.execute("{ tenantSettings { timeZone version } }")).ok()
    assert kept["tenantSettings"] == {"timeZone": DEFAULT_TIME_ZONE, "version": 0}
    theirs = (await other_admin.execute(CREATE, {"i": {"name": "Default Zone Co"}})).ok()
    number = theirs["createCustomer"]["customer"]["number"]
    assert number.startswith(f"CUS{local_date(datetime.now(UTC), DEFAULT):%Y%m%d}")


async def test_due_today_in_engagement_follows_the_zone(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
    customer = await known_customer(rep, "Due Today Trading")
    now = datetime.now(UTC)
    zone, due, today_by_default = zone_and_due_time(now)
    task = {"customerId": customer, "type": "PHONE_CALL", "goal": "call", "dueAt": iso(due)}
    scheduled = (await rep.execute(SCHEDULE, {"i": task})).ok()["scheduleFollowUp"]["followUp"][
        "id"
    ]

    async def listed_today() -> bool:
        edges = (await rep.execute(TODAY)).ok()["myFollowUps"]["edges"]
        return scheduled in {e["node"]["id"] for e in edges}

    # The default zone's day first ...
    assert await listed_today() == today_by_default
    await _update(admin, zone.key)

    # ... then engagement learns the new zone from the event (its cache lives 30 s at most).
    async def follows() -> bool:
        return await listed_today() != today_by_default

    await until(follows, timeout_s=120, what=f"engagement's TODAY in {zone.key}")
