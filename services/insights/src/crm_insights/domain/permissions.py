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


def can_see_potential(principal: Principal, owner_id: str | None, team: str | None) -> bool:
    """A customer's potential (potential-v2): admins, analysts and service managers see every
    customer; a sales manager the customers of their team (all, if their token names no team);
    a sales rep their own."""
    if principal.has_role(Role.ADMIN, Role.ANALYST, Role.SERVICE_MANAGER):
        return True
    if principal.has_role(Role.SALES_MANAGER):
        return principal.team is None or team == principal.team
    return principal.has_role(Role.SALES_REP) and owner_id == principal.user_id


def potential_list_scope(
    principal: Principal, owner_id: str | None, team: str | None
) -> tuple[str | None, str | None]:
    """The (owner, team) filter ``principal`` may list potentials with: a sales rep is held
    to their own customers, a sales manager with a team to that team; asking for others' is
    FORBIDDEN."""
    if principal.has_role(Role.ADMIN, Role.ANALYST, Role.SERVICE_MANAGER):
        return owner_id, team
    if principal.has_role(Role.SALES_MANAGER):
        if principal.team is None:
            return owner_id, team
        if team not in (None, principal.team):
            raise Forbidden("a sales manager sees only their team's customers", field="filter.team")
        return owner_id, principal.team
    if principal.has_role(Role.SALES_REP):
        if owner_id not in (None, principal.user_id):
            raise Forbidden("a sales rep sees only their own customers", field="filter.ownerId")
        return principal.user_id, team
    raise Forbidden("your role may not read customer potential")
