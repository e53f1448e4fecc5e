"""Who may do what with customers. Pure functions over the principal and the customer.

WHETHER a principal may act is the tenant's role → permission matrix (`crm_common.permissions`,
``customer:*``; `Principal.may`). WHICH customers it acts on stays role-derived: sales rep: own
customers; sales manager: the team's; service roles, analysts and admins: all of the tenant
(analysts with contact details masked). A granted action acts within what the roles holding it
read (plus the customers one owns). By default: sales roles and admins write, service roles
upload DELIVERABLE files, sales managers and admins review, merge and assign. Every denial is
`Forbidden` and says what is refused, why, and the permission it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden
from crm_common.permissions import TENANT_CONFIGURE, require
from crm_customer.domain.customer import Customer

_SALES = {Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN}
_READERS = _SALES | {Role.SERVICE_AGENT, Role.SERVICE_MANAGER, Role.ANALYST}


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which of the tenant's customers a principal sees: all, a team's, or their own."""

    owner_id: str | None = None
    team: str | None = None
    everything: bool = False


def can_create(principal: Principal) -> None:
    require(principal, "customer:create", "create customers")


def visibility(principal: Principal) -> Visibility:
    require(principal, "customer:read", "read customers")
    if principal.has_role(Role.ADMIN, Role.ANALYST, Role.SERVICE_AGENT, Role.SERVICE_MANAGER):
        return Visibility(everything=True)
    if principal.has_role(Role.SALES_MANAGER):
        if principal.team:
            return Visibility(team=principal.team)
        return Visibility(owner_id=principal.user_id)
    if principal.has_role(Role.SALES_REP):
        return Visibility(owner_id=principal.user_id)
    raise Forbidden("your role may not read customers")


def sees(principal: Principal, customer: Customer) -> bool:
    """True if the customer is within what `visibility` lets the principal read."""
    seen = visibility(principal)
    if seen.everything:
        return True
    if seen.team is not None:
        return customer.team == seen.team
    return customer.owner_id == seen.owner_id


def _reaches(principal: Principal, customer: Customer) -> bool:
    """The customer is one the principal reads or owns (where its granted actions apply)."""
    if customer.owner_id == principal.user_id:
        return True
    try:
        seen = visibility(principal)
    except Forbidden:
        return False
    if seen.everything:
        return True
    if principal.has_role(Role.SALES_MANAGER) and principal.team is not None:
        return customer.team == principal.team
    return seen.team is not None and customer.team == seen.team


def _acts_on(principal: Principal, permission: str, customer: Customer) -> bool:
    """Holds ``permission`` and reaches the customer through the roles that hold it (a rep who
    is also an analyst writes their own customers, not every customer an analyst reads)."""
    acting = principal.for_permission(permission)
    return bool(acting.roles) and _reaches(acting, customer)


def _in_scope(principal: Principal, customer: Customer) -> bool:
    """May change the customer: holds customer:write and reaches it."""
    return _acts_on(principal, "customer:write", customer)


def _refusal(principal: Principal, what: str, permission: str) -> Forbidden:
    """A denial that says what is refused, why, and which permission it takes."""
    roles = ", ".join(sorted(principal.roles)) or "none"
    if principal.may(permission):
        why = "the customer is neither yours nor your team's"
    else:
        why = f"your roles ({roles}) do not hold {permission} in this tenant"
    return Forbidden(f"you may not {what}: {why} (needs {permission})", permission=permission)


def can_write(principal: Principal, customer: Customer, what: str = "change this customer") -> None:
    """Edit profile, contacts, status; soft delete and restore."""
    if not _in_scope(principal, customer):
        raise _refusal(principal, what, "customer:write")


def can_upload_file(principal: Principal, customer: Customer, kind: str) -> None:
    """Upload a file to a customer: whoever may change the customer, any kind; a holder of
    ``customer:deliver`` (service agents and managers by default: they hand over work results,
    交付物) a ``DELIVERABLE`` to a customer they see."""
    delivers = _acts_on(principal, "customer:deliver", customer)
    if kind == "DELIVERABLE" and delivers:
        return
    if _in_scope(principal, customer):
        return
    if delivers:
        raise Forbidden(
            f"you may not upload a {kind} file to this customer: service roles upload only "
            "DELIVERABLE files (needs customer:write for other kinds)",
            permission="customer:write",
            field="kind",
        )
    raise _refusal(principal, f"upload a {kind} file to this customer", "customer:write")


def can_edit_file(principal: Principal, customer: Customer, kind: str, uploaded_by: str) -> None:
    """Rename, recategorise or delete a customer's file: whoever may change the customer, or
    the service agent who uploaded a DELIVERABLE."""
    if _in_scope(principal, customer):
        return
    if kind == "DELIVERABLE" and uploaded_by == principal.user_id:
        return
    raise _refusal(principal, "change this customer's files", "customer:write")


def can_assign_contact(principal: Principal, customer_owner_id: str, owner_id: str) -> None:
    """A contact's responsible rep: a sales rep names themself or the customer's owner;
    holders of customer:assign (managers and admins) anyone."""
    if principal.may("customer:assign"):
        return
    if owner_id not in (principal.user_id, customer_owner_id):
        raise Forbidden(
            "you may make only yourself or the customer's owner responsible for a "
            "contact (needs customer:assign, held by sales managers and admins by default)",
            field="input.ownerId",
            permission="customer:assign",
        )


def can_review(principal: Principal, customer: Customer) -> None:
    """Approve or reject a new customer (customer:review): the team's sales manager, or whoever
    reads every customer (an admin)."""
    require(principal, "customer:review", "review customers")
    reviewer = principal.for_permission("customer:review")
    if visibility(reviewer).everything:
        return
    if principal.team is not None and customer.team == principal.team:
        return
    raise Forbidden(
        "only a reviewer of the customer's team may review it", permission="customer:review"
    )


def can_reassign(principal: Principal, customer: Customer, new_team: str | None) -> None:
    """Change owner/team (customer:assign): within one's own team, or anywhere for whoever
    reads every customer (an admin)."""
    require(principal, "customer:assign", "reassign customers")
    assigner = principal.for_permission("customer:assign")
    if visibility(assigner).everything:
        return
    if _reaches(assigner, customer):
        if new_team == principal.team:
            return
        raise Forbidden(
            "you may assign customers only within your team", permission="customer:assign"
        )
    raise Forbidden(
        "you may not reassign this customer: it is neither yours nor your team's",
        permission="customer:assign",
    )


def can_assign_on_create(principal: Principal, owner_id: str) -> None:
    """A sales rep registers customers for themself; managers and admins for others."""
    if owner_id != principal.user_id and not principal.may("customer:assign"):
        raise Forbidden(
            "you may only register customers you own (needs customer:assign)",
            permission="customer:assign",
        )


def can_merge(principal: Principal, keep: Customer, merge: Customer) -> None:
    """customer:merge (sales managers and admins), over customers one may change."""
    require(principal, "customer:merge", "merge customers")
    merger = principal.for_permission("customer:merge")
    if all(_in_scope(merger, c) for c in (keep, merge)):
        return
    raise Forbidden(
        "you may merge only customers you may change (both of your team's)",
        permission="customer:merge",
    )


def can_read_history(principal: Principal) -> None:
    require(principal, "customer:history", "read the change history")


def can_import(principal: Principal) -> None:
    require(principal, "customer:import", "import customers")


def masks_contact_details(principal: Principal) -> bool:
    """Analysts read customers with contact phone and email masked."""
    return principal.has_role(Role.ANALYST) and not principal.has_role(*(_READERS - {Role.ANALYST}))


def can_define_custom_fields(principal: Principal) -> None:
    """Only an admin (tenant:configure) defines the tenant's custom fields."""
    require(principal, TENANT_CONFIGURE, "define custom fields")


def can_set_value_tiers(principal: Principal) -> None:
    """Only an admin (tenant:configure) sets the tenant's value tier thresholds."""
    require(principal, TENANT_CONFIGURE, "set the value tier thresholds")
