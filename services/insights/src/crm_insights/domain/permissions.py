"""Who may read insights. Pure functions over the principal.

The tenant's role → permission matrix (`crm_common.permissions`) decides: ``insights:reports``
(analysts, managers and admins by default) reads the tenant's figures and every customer's
health; ``insights:read`` (those and sales reps) one's own numbers and customers.
"""

from __future__ import annotations

from crm_common.auth import Principal
from crm_common.permissions import require
from crm_insights.domain.scope import READ, REPORTS


def can_read_reports(principal: Principal) -> None:
    """Tenant-wide figures (such as the customer counts): analysts, managers and admins."""
    require(principal, REPORTS, "read reports")


def can_see_health(principal: Principal, owner_id: str | None) -> bool:
    """A customer's health: report readers see every customer, a sales rep their own."""
    if principal.may(REPORTS):
        return True
    return principal.may(READ) and owner_id == principal.user_id
