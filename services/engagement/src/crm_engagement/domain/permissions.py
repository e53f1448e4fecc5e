"""Who may see and change a customer's engagement records. Pure functions over the principal.

WHETHER a principal may act is the tenant's role → permission matrix (`crm_common.permissions`,
``engagement:*``; `Principal.may`). WHICH customers' records it reads stays role-derived:
admins, analysts and service roles all of the tenant's; sales reps their own customers', sales
managers their team's; analysts read with contact details masked. A granted action acts within
what the principal reads. By default sales roles and admins write (follow-ups, activities),
sales and service roles log interactions (service agents log their service calls), admins
configure.
"""

from __future__ import annotations

from crm_common.auth import Principal, Role
from crm_common.permissions import require
from crm_engagement.domain.interaction import CustomerRef

_READ_ALL = (Role.ADMIN, Role.ANALYST, Role.SERVICE_AGENT, Role.SERVICE_MANAGER)
WRITERS = (Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN)
READ = "engagement:read"
WRITE = "engagement:write"
LOG = "engagement:log"
CONFIGURE = "engagement:configure"


def may_see(principal: Principal, customer: CustomerRef) -> bool:
    if not principal.may(READ):
        return False
    if principal.has_role(*_READ_ALL):
        return True
    return _owns(principal, customer)


def may_write(principal: Principal, customer: CustomerRef, permission: str = WRITE) -> bool:
    """Holds ``permission`` (engagement:write, or engagement:log for interactions) and reads
    the customer's records through the roles that hold it (a rep who is also an analyst
    writes their own customers' records, not every customer an analyst reads)."""
    acting = principal.for_permission(permission)
    return bool(acting.roles) and may_see(acting, customer)


def _owns(principal: Principal, customer: CustomerRef) -> bool:
    if customer.owner_id == principal.user_id and principal.has_role(*WRITERS):
        return True
    return (
        principal.has_role(Role.SALES_MANAGER)
        and principal.team is not None
        and customer.team == principal.team
    )


def require_writer(principal: Principal, what: str, permission: str = WRITE) -> None:
    require(principal, permission, what)


def require_admin(principal: Principal, what: str) -> None:
    """Settings of engagement (its own, care plans, webhooks): engagement:configure."""
    require(principal, CONFIGURE, what)


def masks_contact_details(principal: Principal) -> bool:
    """Analysts (who hold no other reading role) see contact emails and phones masked."""
    return principal.has_role(Role.ANALYST) and not principal.has_role(
        Role.ADMIN, Role.SALES_REP, Role.SALES_MANAGER, Role.SERVICE_AGENT, Role.SERVICE_MANAGER
    )


def sees_everything(principal: Principal) -> bool:
    return principal.may(READ) and principal.has_role(*_READ_ALL)


def sees_nothing(principal: Principal) -> bool:
    """No role of the principal holds engagement:read in its tenant."""
    return not principal.may(READ)
