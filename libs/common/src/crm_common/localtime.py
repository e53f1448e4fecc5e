"""Local dates of a tenant's time zone: pure helpers (no I/O), usable from domain code.

Stored instants stay UTC; every date a person sees or a number embeds is the tenant's local
date. Where the tenant's zone comes from: `crm_common.tenants` (docs/architecture.md,
"Tenant time zone").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_TIME_ZONE = "Asia/Shanghai"
# What code without a tenant lookup uses (unit tests, older callers): the dates as before.
UTC_ZONE = ZoneInfo("UTC")
TIME_ZONE_MAX = 64


class InvalidTimeZone(ValueError):
    """Not an IANA time zone name this process knows (the ``tzdata`` package lists them)."""


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_time_zone(name: str) -> ZoneInfo:
    """The zone named ``name`` (``Asia/Shanghai``, ``America/New_York``, ``UTC``), or
    `InvalidTimeZone`. Only names of the IANA database are accepted (no paths, no offsets
    such as ``+08:00``: a named zone keeps its daylight-saving rules)."""
    clean = name.strip()
    if not clean or len(clean) > TIME_ZONE_MAX or clean not in _known_zones():
        raise InvalidTimeZone(f"not an IANA time zone name: {name!r} (e.g. Asia/Shanghai)")
    try:
        return ZoneInfo(clean)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed but unreadable
        raise InvalidTimeZone(f"time zone {clean!r} cannot be loaded") from exc


@cache
def default_zone() -> ZoneInfo:
    return ZoneInfo(DEFAULT_TIME_ZONE)


def _aware(instant: datetime) -> datetime:
    # Naive datetimes in this code base are UTC (what the store returns without tz_aware).
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The calendar date ``instant`` falls on in ``zone`` (a naive instant is taken as UTC)."""
    return _aware(instant).astimezone(zone).date()


def start_of_local_day(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant the local day ``day`` starts at in ``zone``.

    Where a daylight-saving jump skips midnight, the day starts at the first local time that
    exists (the jump's instant); where midnight occurs twice, at the first one."""
    # A skipped midnight (fold=0) is read with the offset before the jump, which lands on the
    # jump's instant; an ambiguous one (fold=0) is its first occurrence.
    return datetime.combine(day, clock_time(0), tzinfo=zone).astimezone(UTC)


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the local day ``day`` in ``zone`` as UTC instants (23, 24 or 25
    hours long around daylight-saving changes)."""
    return start_of_local_day(day, zone), start_of_local_day(day + timedelta(days=1), zone)


__all__ = [
    "DEFAULT_TIME_ZONE",
    "UTC_ZONE",
    "InvalidTimeZone",
    "default_zone",
    "local_date",
    "local_day_bounds",
    "parse_time_zone",
    "start_of_local_day",
]
