"""Who may do what with opportunities. Pure functions over the principal."""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden

_WRITERS = {Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN}
# Roles that read every opportunity of the tenant; sales reps read only their own.
_TENANT_READERS = {Role.SALES_MANAGER, Role.ADMIN, Role.ANALYST}


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which of the tenant's opportunities a principal sees: all, or those they own."""

    owner_id: str | None = None
    everything: bool = False


def can_create(principal: Principal) -> None:
    if not principal.has_role(*_WRITERS):
        raise Forbidden("your role may not create opportunities")


def visibility(principal: Principal) -> Visibility:
    if principal.has_role(*_TENANT_READERS):
        return Visibility(everything=True)
    if principal.has_role(Role.SALES_REP):
        return Visibility(owner_id=principal.user_id)
    raise Forbidden("your role may not read opportunities")
