"""Who may do what with customers. Pure functions over the principal."""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden

_WRITERS = {Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN}
_READERS = _WRITERS | {Role.SERVICE_AGENT, Role.SERVICE_MANAGER, Role.ANALYST}


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which of the tenant's customers a principal sees: all, a team's, or their own."""

    owner_id: str | None = None
    team: str | None = None
    everything: bool = False


def can_create(principal: Principal) -> None:
    if not principal.has_role(*_WRITERS):
        raise Forbidden("your role may not create customers")


def visibility(principal: Principal) -> Visibility:
    if principal.has_role(Role.ADMIN, Role.ANALYST, Role.SERVICE_AGENT, Role.SERVICE_MANAGER):
        return Visibility(everything=True)
    if principal.has_role(Role.SALES_MANAGER):
        if principal.team:
            return Visibility(team=principal.team)
        return Visibility(owner_id=principal.user_id)
    if principal.has_role(Role.SALES_REP):
        return Visibility(owner_id=principal.user_id)
    raise Forbidden("your role may not read customers")


def masks_contact_details(principal: Principal) -> bool:
    """Analysts read customers with contact phone and email masked."""
    return principal.has_role(Role.ANALYST) and not principal.has_role(*(_READERS - {Role.ANALYST}))
