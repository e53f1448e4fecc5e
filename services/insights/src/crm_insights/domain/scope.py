"""What a report looks at: its filters, narrowed by who is asking.

Holders of insights:reports (analysts, managers and admins by default) read every number of
their tenant; holders of insights:read only (sales reps) read only their
own (the owner filter is forced to them, and asking for someone else's is refused).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Forbidden
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

    @property
    def needs_customer_attributes(self) -> bool:
        """True when the filter speaks about the customer (not the fact's own fields)."""
        return self.customer_type is not None or self.region is not None


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
