"""What a report looks at: its filters, narrowed by who is asking.

Holders of insights:reports (analysts, managers and admins by default) read every number of
their tenant; holders of insights:read only (sales reps) read only their
own (the owner filter is forced to them, and asking for someone else's is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Forbidden
from crm_common.localtime import start_of_local_day
from crm_common.permissions import refusal

# The permissions (crm_common.permissions): every number of the tenant, or one's own.
REPORTS = "insights:reports"
READ = "insights:read"


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Filters every report accepts; ``None`` means "any"."""

    tenant_id: str
    start: datetime | None = None
    end: datetime | None = None
    customer_type: str | None = None
    region: str | None = None
    owner_id: str | None = None
    team: str | None = None
    # The tenant's time zone: the period keys a report shows are local dates in it.
    zone: tzinfo = UTC

    @property
    def needs_customer_attributes(self) -> bool:
        """True when the filter speaks about the customer (not the fact's own fields)."""
        return self.customer_type is not None or self.region is not None


def report_window(
    *,
    start: datetime | None,
    end: datetime | None,
    first_day: date | None,
    last_day: date | None,
    zone: ZoneInfo,
) -> tuple[datetime | None, datetime | None]:
    """The UTC instants ``[start, end)`` a report covers, from what the filter gave.

    ``from``/``to`` with an offset are those instants; without one they are the tenant's
    local time (what a person in the tenant means by "09:00"). ``fromDate``/``toDate`` are the
    tenant's local days, both inclusive. One end given both ways is refused.
    """
    if start is not None and first_day is not None:
        raise BadUserInput("give either from or fromDate, not both", field="filter.fromDate")
    if end is not None and last_day is not None:
        raise BadUserInput("give either to or toDate, not both", field="filter.toDate")
    if first_day is not None and last_day is not None and last_day < first_day:
        raise BadUserInput("toDate must not be before fromDate", field="filter.toDate")
    lower = start_of_local_day(first_day, zone) if first_day else _instant(start, zone)
    if last_day is not None:
        return lower, start_of_local_day(last_day + timedelta(days=1), zone)
    return lower, _instant(end, zone)


def _instant(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        # A wall-clock time of the tenant (the first of a repeated hour, as fold=0 reads it).
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def scope_for(principal: Principal, requested: ReportScope) -> ReportScope:
    """The scope ``principal`` may read: all of the tenant, or only their own numbers."""
    if requested.start and requested.end and requested.start >= requested.end:
        raise BadUserInput("the time range must end after it starts", field="filter.to")
    if principal.may(REPORTS):
        return requested
    if principal.may(READ):
        if requested.owner_id not in (None, principal.user_id):
            raise Forbidden("a sales rep sees only their own numbers")
        if requested.team is not None and requested.team != principal.team:
            raise Forbidden("a sales rep sees only their own numbers")
        return replace(requested, owner_id=principal.user_id)
    raise refusal("read reports", READ, principal.roles)
