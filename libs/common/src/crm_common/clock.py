"""The current time as the database will store it.

MongoDB (and FerretDB) keep datetimes to the millisecond. Truncating at the source means a
mutation returns exactly the timestamp a later read will show, and cursors built from either
agree.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
