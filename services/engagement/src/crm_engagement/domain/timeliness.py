"""The 24-hour rules. Pure.

- A follow-up record (an interaction) is entered within 24 h of when it happened:
  ``created_at - occurred_at`` over `ENTRY_DEADLINE` is a late entry (interactions accept
  after-the-fact times; both are kept, so lateness is a fact of the record, not a guess).
- A new customer's contact person is registered within 24 h of the first touch (the first
  interaction with the customer): a contact registered before the first touch, or within the
  24 h after it, is on time; later is late; none yet while the 24 h have passed is missing;
  none yet within them is pending. Attributed to the rep who made the first touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput
from crm_engagement.domain.interaction import as_utc

ENTRY_DEADLINE = timedelta(hours=24)
CONTACT_DEADLINE = timedelta(hours=24)
PERIOD_MAX = timedelta(days=366)


def is_late_entry(occurred_at: datetime, entered_at: datetime) -> bool:
    return as_utc(entered_at) - as_utc(occurred_at) > ENTRY_DEADLINE


class ContactTimeliness(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    PENDING = "pending"


def contact_timeliness(
    first_touch_at: datetime, first_contact_at: datetime | None, now: datetime
) -> ContactTimeliness:
    deadline = as_utc(first_touch_at) + CONTACT_DEADLINE
    if first_contact_at is None:
        return ContactTimeliness.MISSING if now > deadline else ContactTimeliness.PENDING
    return (
        ContactTimeliness.ON_TIME
        if as_utc(first_contact_at) <= deadline
        else (ContactTimeliness.LATE)
    )


@dataclass(slots=True)
class RepTimeliness:
    """One rep's figures over a period."""

    rep_id: str
    entries_on_time: int = 0
    entries_late: int = 0
    contacts_on_time: int = 0
    contacts_late: int = 0
    contacts_missing: int = 0
    contacts_pending: int = 0

    @property
    def entries(self) -> int:
        return self.entries_on_time + self.entries_late

    def count_contact(self, verdict: ContactTimeliness) -> None:
        name = f"contacts_{verdict.value}"
        setattr(self, name, getattr(self, name) + 1)


@dataclass(slots=True)
class TimelinessReport:
    period_from: datetime
    period_to: datetime
    reps: dict[str, RepTimeliness] = field(default_factory=dict)

    def rep(self, rep_id: str) -> RepTimeliness:
        return self.reps.setdefault(rep_id, RepTimeliness(rep_id))


def validate_period(period_from: datetime, period_to: datetime) -> None:
    if as_utc(period_from) > as_utc(period_to):
        raise BadUserInput("from must not be after to", field="period.from")
    if as_utc(period_to) - as_utc(period_from) > PERIOD_MAX:
        raise BadUserInput("a period is at most 366 days", field="period.to")
