"""Who may do what in the service desk, and which records a principal may see. Pure.

- service agents work tickets and service orders (the tenant's whole queue);
- service managers see their team's (department's) tickets and orders plus the tickets
  escalated to them, and handle those escalations;
- sales reps read the service data of the customers they own, sales managers their team's;
- analysts read everything, write nothing; admins do everything in their tenant.

That is the default: WHETHER a role may read, work, configure, edit templates or manage tasks
is the tenant's role → permission matrix (`crm_common.permissions`, ``servicedesk:*``;
`Principal.may`); WHICH records it sees stays role-derived as above.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crm_common.auth import Principal, Role
from crm_common.permissions import require


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """What the service desk knows of a customer (from the customer service's events)."""

    id: str
    tenant_id: str
    name: str
    owner_id: str
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which records a principal may read; the repositories turn it into a query.

    ``everything`` wins; otherwise a record is visible when any given condition matches it.
    """

    everything: bool = False
    customer_owner: str | None = None  # customers this sales rep owns
    customer_team: str | None = None  # customers of this sales team
    team: str | None = None  # tickets of this department / orders of this team
    escalated_to: str | None = None  # tickets escalated to this lead
    task_owner: str | None = None  # improvement tasks this user owns


def can_work(principal: Principal) -> None:
    """Open, dispatch, move and resolve tickets; open and deliver service orders."""
    require(principal, "servicedesk:work", "work tickets or service orders")


def can_read(principal: Principal) -> None:
    require(principal, "servicedesk:read", "read service data")


def can_configure(principal: Principal) -> None:
    require(principal, "servicedesk:configure", "change the SLA table and departments")


def can_edit_templates(principal: Principal) -> None:
    require(principal, "servicedesk:templates", "define survey templates")


def can_manage_tasks(principal: Principal) -> None:
    """Open improvement tasks by hand, reassign and reschedule them."""
    require(principal, "servicedesk:tasks", "manage improvement tasks")


def manages_team(principal: Principal, team: str | None) -> bool:
    """Admins manage every team's tasks; a service manager their own team's (and unteamed)."""
    if principal.has_role(Role.ADMIN):
        return True
    return principal.has_role(Role.SERVICE_MANAGER) and (team is None or team == principal.team)


def task_visibility(principal: Principal) -> Visibility:
    """Improvement tasks: as tickets (teams are departments), plus the tasks one owns."""
    view = visibility(principal)
    return view if view.everything else replace(view, task_owner=principal.user_id)


def can_publish(principal: Principal) -> None:
    can_work(principal)


def visibility(principal: Principal) -> Visibility:
    can_read(principal)
    if principal.has_role(Role.ADMIN, Role.ANALYST, Role.SERVICE_AGENT):
        return Visibility(everything=True)
    if principal.has_role(Role.SERVICE_MANAGER):
        return Visibility(
            team=principal.team,
            escalated_to=principal.user_id,
            customer_team=principal.team if principal.has_role(Role.SALES_MANAGER) else None,
        )
    if principal.has_role(Role.SALES_MANAGER) and principal.team:
        return Visibility(customer_team=principal.team, customer_owner=principal.user_id)
    return Visibility(customer_owner=principal.user_id)


def may_see_customer(principal: Principal, customer: CustomerRef | None) -> bool:
    """Whether the principal may read this customer's service data as a whole."""
    view = visibility(principal)
    if view.everything:
        return True
    if customer is None:
        return False
    return (view.customer_owner is not None and customer.owner_id == view.customer_owner) or (
        view.customer_team is not None and customer.team == view.customer_team
    )
