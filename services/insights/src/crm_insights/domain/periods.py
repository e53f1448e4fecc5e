"""Report periods: the day, ISO week and month a moment falls in, as sortable text keys.

Read-model documents carry these keys, computed once when the event is applied, so reports
group by a plain field (FerretDB has no date operators worth relying on in aggregations).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


class Bucket(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


def bucket_key(moment: datetime, bucket: Bucket) -> str:
    """``2026-11-23`` (day), ``2026-W48`` (ISO week) or ``2026-11`` (month), in UTC."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if bucket is Bucket.DAY:
        return utc.strftime("%Y-%m-%d")
    if bucket is Bucket.WEEK:
        year, week, _ = utc.isocalendar()
        return f"{year}-W{week:02d}"
    return utc.strftime("%Y-%m")


def bucket_fields(prefix: str, moment: datetime) -> dict[str, str]:
    """The three period keys of ``moment`` as document fields (``<prefix>_day`` ...)."""
    return {f"{prefix}_{b.value.lower()}": bucket_key(moment, b) for b in Bucket}


def bucket_field(prefix: str, bucket: Bucket) -> str:
    return f"{prefix}_{bucket.value.lower()}"
