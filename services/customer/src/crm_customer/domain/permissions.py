"""Who may do what with customers. Pure functions over the principal and the customer.

sales rep: own customers; sales manager: the team's (and approves reviews); service agent and
service manager: read basics and contacts, upload DELIVERABLE files, write nothing else;
analyst: read, contact details masked; admin: everything in the tenant. Every denial is
`Forbidden` and says what is refused, why, and the permission it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden
from crm_customer.domain.customer import Customer

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


def sees(principal: Principal, customer: Customer) -> bool:
    """True if the customer is within what `visibility` lets the principal read."""
    seen = visibility(principal)
    if seen.everything:
        return True
    if seen.team is not None:
        return customer.team == seen.team
    return customer.owner_id == seen.owner_id


def _in_scope(principal: Principal, customer: Customer) -> bool:
    if principal.is_admin:
        return True
    if customer.owner_id == principal.user_id and principal.has_role(*_WRITERS):
        return True
    return (
        principal.has_role(Role.SALES_MANAGER)
        and principal.team is not None
        and customer.team == principal.team
    )


def _refusal(principal: Principal, what: str, permission: str) -> Forbidden:
    """A denial that says what is refused, why, and which permission it takes."""
    roles = ", ".join(sorted(principal.roles)) or "none"
    if principal.has_role(*_WRITERS):
        why = "the customer is neither yours nor your team's"
    else:
        why = f"your roles ({roles}) do not include a sales role"
    return Forbidden(f"you may not {what}: {why} (needs {permission})", permission=permission)


def can_write(principal: Principal, customer: Customer, what: str = "change this customer") -> None:
    """Edit profile, contacts, status; soft delete and restore."""
    if not _in_scope(principal, customer):
        raise _refusal(principal, what, "customer:write")


# Service desk roles hand over work results (交付物) to customers they can see.
_DELIVERABLE_UPLOADERS = {Role.SERVICE_AGENT, Role.SERVICE_MANAGER}


def can_upload_file(principal: Principal, customer: Customer, kind: str) -> None:
    """Upload a file to a customer: whoever may change the customer, any kind; a service
    agent or service manager (who sees every customer) a ``DELIVERABLE``."""
    if kind == "DELIVERABLE" and principal.has_role(*_DELIVERABLE_UPLOADERS):
        return
    if _in_scope(principal, customer):
        return
    if principal.has_role(*_DELIVERABLE_UPLOADERS):
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
    managers and admins anyone."""
    if principal.has_role(Role.SALES_MANAGER, Role.ADMIN):
        return
    if owner_id not in (principal.user_id, customer_owner_id):
        raise Forbidden(
            "a sales rep may make only themself or the customer's owner responsible for a "
            "contact (needs customer:assign, held by sales managers and admins)",
            field="input.ownerId",
            permission="customer:assign",
        )


def can_review(principal: Principal, customer: Customer) -> None:
    """Approve or reject a new customer: the team's sales manager, or an admin."""
    if principal.is_admin:
        return
    if (
        principal.has_role(Role.SALES_MANAGER)
        and principal.team is not None
        and customer.team == principal.team
    ):
        return
    raise Forbidden("only a sales manager of the customer's team may review it")


def can_reassign(principal: Principal, customer: Customer, new_team: str | None) -> None:
    """Change owner/team: a sales manager within their own team, an admin anywhere."""
    if principal.is_admin:
        return
    if principal.has_role(Role.SALES_MANAGER) and _in_scope(principal, customer):
        if new_team == principal.team:
            return
        raise Forbidden("a sales manager may assign customers only within their team")
    raise Forbidden("only a sales manager or an admin may reassign customers")


def can_assign_on_create(principal: Principal, owner_id: str) -> None:
    """A sales rep registers customers for themself; managers and admins for others."""
    if owner_id != principal.user_id and not principal.has_role(Role.SALES_MANAGER, Role.ADMIN):
        raise Forbidden("a sales rep may only register customers they own")


def can_merge(principal: Principal, keep: Customer, merge: Customer) -> None:
    if principal.is_admin:
        return
    if principal.has_role(Role.SALES_MANAGER) and all(
        _in_scope(principal, c) for c in (keep, merge)
    ):
        return
    raise Forbidden("only a sales manager of both customers' team or an admin may merge")


def can_read_history(principal: Principal) -> None:
    if not principal.has_role(*_WRITERS, Role.ANALYST):
        raise Forbidden("your role may not read the change history")


def can_import(principal: Principal) -> None:
    if not principal.has_role(*_WRITERS):
        raise Forbidden("your role may not import customers")


def masks_contact_details(principal: Principal) -> bool:
    """Analysts read customers with contact phone and email masked."""
    return principal.has_role(Role.ANALYST) and not principal.has_role(*(_READERS - {Role.ANALYST}))


def can_define_custom_fields(principal: Principal) -> None:
    """Only an admin defines the tenant's custom fields."""
    if not principal.is_admin:
        raise Forbidden("only an admin may define custom fields")


def can_set_value_tiers(principal: Principal) -> None:
    """Only an admin sets the tenant's value tier thresholds."""
    if not principal.is_admin:
        raise Forbidden(
            "only an admin may set the value tier thresholds (needs tenant:configure)",
            permission="tenant:configure",
        )
