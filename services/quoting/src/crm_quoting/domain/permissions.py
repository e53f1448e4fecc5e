"""Who may do what in quoting. Pure functions over the principal.

Records belong to whoever CURRENTLY owns their customer (quoting's copy of the customer,
kept from the customer events): a reassigned customer's opportunities and quotes move with it.

- sales rep: creates opportunities and quotes for their customers, reads and works on those;
- sales manager: reads and works on their team's customers' (and their own), approves the
  team's quotes;
- analyst: reads everything in the tenant, changes nothing;
- admin: everything in the tenant, and the solution library and settings.

That is the default: WHETHER a role may read, create, change, approve or configure is the
tenant's role → permission matrix (`crm_common.permissions`, ``quoting:*``; `Principal.may`);
WHICH customers' records it acts on stays role-derived as above.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden, NotFound
from crm_common.permissions import require

_TENANT_READERS = {Role.ADMIN, Role.ANALYST}


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which customers' records a principal sees: all, a team's plus their own, or their own
    (by the customer's current owner and team)."""

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
    require(principal, "quoting:read", "read sales data")
    if principal.has_role(*_TENANT_READERS):
        return Visibility(everything=True)
    if principal.has_role(Role.SALES_MANAGER):
        return Visibility(owner_id=principal.user_id, team=principal.team)
    if principal.has_role(Role.SALES_REP):
        return Visibility(owner_id=principal.user_id)
    raise Forbidden("your role may not read sales data")


def can_create(principal: Principal) -> None:
    require(principal, "quoting:create", "create opportunities or quotes")


def can_see_customer(principal: Principal, owner_id: str, team: str | None) -> None:
    """Work on a customer (by its current owner and team): not found unless visible."""
    if not visibility(principal).admits(owner_id, team):
        raise NotFound("no such customer", field="input.customerId")


def can_change(principal: Principal) -> None:
    """Change a record found through the caller's `visibility`: quoting:write."""
    require(principal, "quoting:write", "change sales data")


def can_manage_catalogue(principal: Principal) -> None:
    require(principal, "quoting:configure", "manage the solution library and quoting settings")


def can_approve(principal: Principal) -> None:
    require(principal, "quoting:approve", "approve or reject quotes")


def approves_tenant_wide(principal: Principal) -> bool:
    """An approver whose approving role reads every record (an admin) decides on any team's
    quotes."""
    return visibility(principal.for_permission("quoting:approve")).everything
