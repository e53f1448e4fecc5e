"""Who may do what with tickets. Pure functions over the principal."""

from __future__ import annotations

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden

_OPENERS = {
    Role.SERVICE_AGENT,
    Role.SERVICE_MANAGER,
    Role.SALES_REP,
    Role.SALES_MANAGER,
    Role.ADMIN,
}
# Every role reads the tenant's tickets (analysts for reporting).
_READERS = _OPENERS | {Role.ANALYST}


def can_open(principal: Principal) -> None:
    if not principal.has_role(*_OPENERS):
        raise Forbidden("your role may not open tickets")


def can_read(principal: Principal) -> None:
    if not principal.has_role(*_READERS):
        raise Forbidden("your role may not read tickets")
