"""Who may read insights. Pure functions over the principal."""

from __future__ import annotations

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden

_READERS = {Role.ADMIN, Role.ANALYST, Role.SALES_MANAGER}


def can_read_reports(principal: Principal) -> None:
    if not principal.has_role(*_READERS):
        raise Forbidden("your role may not read reports")
