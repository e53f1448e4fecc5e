"""Who may do what in quoting. Pure functions over the principal.

- sales rep: creates opportunities and quotes, reads and works on their own;
- sales manager: reads and works on their team's (and their own), approves the team's quotes;
- analyst: reads everything in the tenant, changes nothing;
- admin: everything in the tenant, and the solution library and settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden, NotFound

_WRITERS = {Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN}
_TENANT_READERS = {Role.ADMIN, Role.ANALYST}


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which of the tenant's records a principal sees: all, a team's plus their own, or own."""

    owner_id: str | None = None
    team: str | None = None
    everything: bool = False

    def admits(self, owner_id: str, team: str | None) -> bool:
        if self.everything:
            return True
        if owner_id == self.owner_id:
            return True
        return self.team is not None and team == self.team


def visibility(principal: Principal) -> Visibility:
    if principal.has_role(*_TENANT_READERS):
        return Visibility(everything=True)
    if principal.has_role(Role.SALES_MANAGER):
        return Visibility(owner_id=principal.user_id, team=principal.team)
    if principal.has_role(Role.SALES_REP):
        return Visibility(owner_id=principal.user_id)
    raise Forbidden("your role may not read sales data")


def can_create(principal: Principal) -> None:
    if not principal.has_role(*_WRITERS):
        raise Forbidden("your role may not create opportunities or quotes")


def can_change(principal: Principal, owner_id: str, team: str | None) -> None:
    """Change a record: writers who can see it (an analyst reads only)."""
    if not visibility(principal).admits(owner_id, team):
        raise NotFound("no such record", field="input.id")
    if not principal.has_role(*_WRITERS):
        raise Forbidden("your role may only read sales data")


def can_manage_catalogue(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin manages the solution library and quoting settings")
