"""Who may read insights. Pure functions over the principal."""

from __future__ import annotations

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden
from crm_insights.domain.scope import REPORT_READERS


def can_read_reports(principal: Principal) -> None:
    """Tenant-wide figures (such as the customer counts): analysts, managers and admins."""
    if not principal.has_role(*REPORT_READERS):
        raise Forbidden("your role may not read reports")


def can_see_health(principal: Principal, owner_id: str | None) -> bool:
    """A customer's health: report readers see every customer, a sales rep their own."""
    if principal.has_role(*REPORT_READERS):
        return True
    return principal.has_role(Role.SALES_REP) and owner_id == principal.user_id
