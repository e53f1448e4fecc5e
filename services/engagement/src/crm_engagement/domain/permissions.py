"""Who may see and change a customer's engagement records. Pure functions over the principal.

Sales reps see and write their own customers' records, sales managers their team's, admins all
of the tenant's; service agents and managers read; analysts read with contact details masked.
"""

from __future__ import annotations

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden
from crm_engagement.domain.interaction import CustomerRef

_READ_ALL = (Role.ADMIN, Role.ANALYST, Role.SERVICE_AGENT, Role.SERVICE_MANAGER)
WRITERS = (Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN)


def may_see(principal: Principal, customer: CustomerRef) -> bool:
    if principal.has_role(*_READ_ALL):
        return True
    return _owns(principal, customer)


def may_write(principal: Principal, customer: CustomerRef) -> bool:
    if principal.has_role(Role.ADMIN):
        return True
    return principal.has_role(Role.SALES_REP, Role.SALES_MANAGER) and _owns(principal, customer)


def _owns(principal: Principal, customer: CustomerRef) -> bool:
    if customer.owner_id == principal.user_id and principal.has_role(*WRITERS):
        return True
    return (
        principal.has_role(Role.SALES_MANAGER)
        and principal.team is not None
        and customer.team == principal.team
    )


def require_writer(principal: Principal, what: str) -> None:
    if not principal.has_role(*WRITERS):
        raise Forbidden(f"your role may not {what}")


def require_admin(principal: Principal, what: str) -> None:
    if not principal.has_role(Role.ADMIN):
        raise Forbidden(f"only an admin may {what}")


def masks_contact_details(principal: Principal) -> bool:
    """Analysts (who hold no other reading role) see contact emails and phones masked."""
    return principal.has_role(Role.ANALYST) and not principal.has_role(
        Role.ADMIN, Role.SALES_REP, Role.SALES_MANAGER, Role.SERVICE_AGENT, Role.SERVICE_MANAGER
    )


def sees_everything(principal: Principal) -> bool:
    return principal.has_role(*_READ_ALL)
