"""Who may read insights. Pure functions over the principal.

The tenant's role → permission matrix (`crm_common.permissions`) decides: ``insights:reports``
(analysts, managers and admins by default) reads the tenant's figures and every customer's
health; ``insights:read`` (those and sales reps) one's own numbers and customers.
"""

from __future__ import annotations

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden
from crm_common.permissions import refusal, require
from crm_insights.domain.scope import READ, REPORTS


def can_read_reports(principal: Principal) -> None:
    """Tenant-wide figures (such as the customer counts): analysts, managers and admins."""
    require(principal, REPORTS, "read reports")


def can_see_health(principal: Principal, owner_id: str | None) -> bool:
    """A customer's health: report readers see every customer, a sales rep their own."""
    if principal.may(REPORTS):
        return True
    return principal.may(READ) and owner_id == principal.user_id


# Reading potentials takes the report permission (or, for one's own customers, the read
# one); a sales manager holding it sees their team's customers, any other holder all.
_TEAM_SCOPED = frozenset({Role.SALES_MANAGER})


def _sees_all_potentials(principal: Principal) -> bool:
    return bool(principal.roles_holding(REPORTS) - _TEAM_SCOPED)


def _sees_team_potentials(principal: Principal) -> bool:
    return bool(principal.roles_holding(REPORTS) & _TEAM_SCOPED)


def can_see_potential(principal: Principal, owner_id: str | None, team: str | None) -> bool:
    """A customer's potential (potential-v2): by default admins, analysts and service managers
    see every customer; a sales manager the customers of their team (all, if their token names
    no team); a sales rep their own."""
    if _sees_all_potentials(principal):
        return True
    if _sees_team_potentials(principal):
        return principal.team is None or team == principal.team
    return principal.may(READ) and owner_id == principal.user_id


def potential_list_scope(
    principal: Principal, owner_id: str | None, team: str | None
) -> tuple[str | None, str | None]:
    """The (owner, team) filter ``principal`` may list potentials with: a sales rep is held
    to their own customers, a sales manager with a team to that team; asking for others' is
    FORBIDDEN."""
    if _sees_all_potentials(principal):
        return owner_id, team
    if _sees_team_potentials(principal):
        if principal.team is None:
            return owner_id, team
        if team not in (None, principal.team):
            raise Forbidden("a sales manager sees only their team's customers", field="filter.team")
        return owner_id, principal.team
    if principal.may(READ):
        if owner_id not in (None, principal.user_id):
            raise Forbidden("a sales rep sees only their own customers", field="filter.ownerId")
        return principal.user_id, team
    raise refusal("read customer potential", READ, principal.roles)
