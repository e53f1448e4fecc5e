"""Report periods: the day, ISO week and month a moment falls in, as sortable text keys.

Read-model documents carry these keys, computed once when the event is applied, so reports
group by a plain field (FerretDB has no date operators worth relying on in aggregations).
Keys are local dates of the tenant's time zone (``zone``; the projections pass the tenant's,
see `crm_common.tenants`); without a zone, UTC. Keys stored before a zone change keep the zone
they were computed in until insights is rebuilt by replay (services/insights/README.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from enum import StrEnum


class Bucket(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


def bucket_key(moment: datetime, bucket: Bucket, zone: tzinfo = UTC) -> str:
    """``2026-11-23`` (day), ``2026-W48`` (ISO week) or ``2026-11`` (month) of ``moment`` in
    ``zone`` (default UTC; a naive moment is UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone(zone)
    if bucket is Bucket.DAY:
        return local.strftime("%Y-%m-%d")
    if bucket is Bucket.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def bucket_fields(prefix: str, moment: datetime, zone: tzinfo = UTC) -> dict[str, str]:
    """The three period keys of ``moment`` in ``zone`` as document fields (``<prefix>_day``
    ...)."""
    return {f"{prefix}_{b.value.lower()}": bucket_key(moment, b, zone) for b in Bucket}


def bucket_field(prefix: str, bucket: Bucket) -> str:
    return f"{prefix}_{bucket.value.lower()}"
