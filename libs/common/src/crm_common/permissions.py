"""The role → permission matrix, and a tenant's changes to it. Pure (no I/O): domain code
imports it.

A permission is ``"module:action"`` (``customer:write``, ``quoting:approve``...), listed with
a one-line description in `CATALOGUE`. `DEFAULT_MATRIX` gives each role its permissions as
the services granted them before tenants could change them (plus the service work of
issue 18: service agents and managers log interactions). A tenant's admin grants or revokes
per role (`RoleOverride`: what the tenant adds to and takes from the default); only the
difference from the default is stored, so a later change of a default reaches every tenant
that did not decide otherwise.

The matrix decides whether a role may perform an action at all. Which records it acts on
stays role-derived as before (a sales rep's own customers, a sales manager's team's...), and a
granted action acts within the read visibility of the roles that hold it
(`Principal.for_permission`). ``tenant:configure``
is never revoked from ``admin`` (no tenant can lock itself out).

Every service's request carries the principal's effective permissions (`Principal.may`),
resolved per request from the tenant's settings (`crm_common.tenants`); see
docs/architecture.md ("Role permissions").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from crm_common.errors import BadUserInput, Forbidden


class Role(StrEnum):
    """The roles a token may carry (`crm_common.auth` re-exports it: it imports this module)."""

    SALES_REP = "sales_rep"
    SALES_MANAGER = "sales_manager"
    SERVICE_AGENT = "service_agent"
    SERVICE_MANAGER = "service_manager"
    ANALYST = "analyst"
    ADMIN = "admin"


SALES_REP: str = Role.SALES_REP
SALES_MANAGER: str = Role.SALES_MANAGER
SERVICE_AGENT: str = Role.SERVICE_AGENT
SERVICE_MANAGER: str = Role.SERVICE_MANAGER
ANALYST: str = Role.ANALYST
ADMIN: str = Role.ADMIN
ROLES: tuple[str, ...] = tuple(Role)

# The one permission an admin always keeps (changing the matrix needs it).
TENANT_CONFIGURE = "tenant:configure"

# permission -> one-line description (the order is the order screens list them in).
CATALOGUE: dict[str, str] = {
    "customer:read": "Read customers and their contacts (own, team's or all, by role).",
    "customer:create": "Register new customers.",
    "customer:write": "Change customers one sees: profile, contacts, status, files, cadence.",
    "customer:deliver": "Upload DELIVERABLE files (work results) to customers one sees.",
    "customer:assign": "Name other owners: register customers for others, reassign "
    "customers, make others responsible for contacts.",
    "customer:review": "Approve or reject new customers (a sales manager: the team's).",
    "customer:merge": "Merge duplicate customers.",
    "customer:import": "Import customers from a file.",
    "customer:history": "Read a customer's change history.",
    "engagement:read": "Read interactions, follow-ups, activities and timelines.",
    "engagement:log": "Log, edit and correct interactions with customers one sees.",
    "engagement:write": "Schedule and complete follow-ups, run activities and registrations.",
    "engagement:assign": "Assign follow-ups to someone else.",
    "engagement:plan": "Plan holiday greetings and content pushes for a segment.",
    "engagement:configure": "Change engagement, care plan and webhook settings.",
    "quoting:read": "Read opportunities and quotes (own, team's or all, by role).",
    "quoting:create": "Create opportunities and quotes.",
    "quoting:write": "Change opportunities and quotes one sees.",
    "quoting:approve": "Approve or reject quotes (a sales manager: the team's).",
    "quoting:configure": "Manage the solution library and quoting settings.",
    "servicedesk:read": "Read tickets, service orders, surveys and knowledge.",
    "servicedesk:work": "Open, dispatch, move and resolve tickets; open and deliver orders.",
    "servicedesk:templates": "Define survey templates.",
    "servicedesk:tasks": "Open, reassign and reschedule improvement tasks.",
    "servicedesk:configure": "Change the SLA table and departments.",
    "insights:read": "Read one's own numbers and customer health.",
    "insights:reports": "Read the tenant's reports and every customer's health.",
    TENANT_CONFIGURE: "Change tenant settings: time zone, custom fields, value tiers, "
    "role permissions.",
}
PERMISSIONS: frozenset[str] = frozenset(CATALOGUE)
MODULES: tuple[str, ...] = tuple(dict.fromkeys(p.split(":", 1)[0] for p in CATALOGUE))

_SALES: set[str] = {SALES_REP, SALES_MANAGER, ADMIN}
_SERVICE: set[str] = {SERVICE_AGENT, SERVICE_MANAGER}
_EVERYONE: set[str] = set(ROLES)
_REPORT_READERS: set[str] = {ADMIN, ANALYST, SALES_MANAGER, SERVICE_MANAGER}

# permission -> the roles that hold it by default.
_HOLDERS: dict[str, set[str]] = {
    "customer:read": _EVERYONE,
    "customer:create": _SALES,
    "customer:write": _SALES,
    "customer:deliver": _SERVICE,
    "customer:assign": {SALES_MANAGER, ADMIN},
    "customer:review": {SALES_MANAGER, ADMIN},
    "customer:merge": {SALES_MANAGER, ADMIN},
    "customer:import": _SALES,
    "customer:history": _SALES | {ANALYST},
    "engagement:read": _EVERYONE,
    "engagement:log": _SALES | _SERVICE,
    "engagement:write": _SALES,
    "engagement:assign": {SALES_MANAGER, ADMIN},
    "engagement:plan": {SALES_MANAGER, ADMIN},
    "engagement:configure": {ADMIN},
    "quoting:read": _SALES | {ANALYST},
    "quoting:create": _SALES,
    "quoting:write": _SALES,
    "quoting:approve": {SALES_MANAGER, ADMIN},
    "quoting:configure": {ADMIN},
    "servicedesk:read": _EVERYONE,
    "servicedesk:work": _SERVICE | {ADMIN},
    "servicedesk:templates": {SERVICE_MANAGER, ADMIN},
    "servicedesk:tasks": {SERVICE_MANAGER, ADMIN},
    "servicedesk:configure": {ADMIN},
    "insights:read": _REPORT_READERS | {SALES_REP},
    "insights:reports": _REPORT_READERS,
    TENANT_CONFIGURE: {ADMIN},
}

DEFAULT_MATRIX: dict[str, frozenset[str]] = {
    role: frozenset(p for p, holders in _HOLDERS.items() if role in holders) for role in ROLES
}


@dataclass(frozen=True, slots=True)
class RoleOverride:
    """What a tenant changed for one role: permissions added to and taken from its default."""

    grants: frozenset[str] = frozenset()
    revokes: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.grants or self.revokes)


# role -> the tenant's override (roles without one keep the default).
RoleOverrides = Mapping[str, RoleOverride]


def role_permissions(role: str, overrides: RoleOverrides) -> frozenset[str]:
    """The role's effective permissions in a tenant with ``overrides``."""
    default = DEFAULT_MATRIX.get(role, frozenset())
    override = overrides.get(role)
    if override is None:
        return default
    effective = (default - override.revokes) | (override.grants & PERMISSIONS)
    if role == ADMIN:
        effective |= {TENANT_CONFIGURE}
    return effective


def effective_permissions(roles: Iterable[str], overrides: RoleOverrides) -> frozenset[str]:
    """Everything any of ``roles`` may do in a tenant with ``overrides`` (unknown roles: none)."""
    held: set[str] = set()
    for role in roles:
        held |= role_permissions(role, overrides)
    return frozenset(held)


def default_permissions(roles: Iterable[str]) -> frozenset[str]:
    return effective_permissions(roles, {})


def override_for(role: str, effective: frozenset[str]) -> RoleOverride:
    """The override that gives ``role`` exactly ``effective`` (the difference from default)."""
    default = DEFAULT_MATRIX.get(role, frozenset())
    return RoleOverride(grants=effective - default, revokes=default - effective)


def change_role(
    role: str, grant: Iterable[str], revoke: Iterable[str], overrides: RoleOverrides
) -> dict[str, RoleOverride]:
    """The tenant's overrides after granting and revoking for ``role``; `BadUserInput` on the
    offending field (``input.role``, ``input.grant``, ``input.revoke``) when a name is unknown,
    a permission is both granted and revoked, or the admin would lose ``tenant:configure``."""
    if role not in ROLES:
        raise BadUserInput(
            f"unknown role {role!r}; roles are {', '.join(ROLES)}", field="input.role"
        )
    granted, revoked = _known(grant, "input.grant"), _known(revoke, "input.revoke")
    both = granted & revoked
    if both:
        raise BadUserInput(
            f"{', '.join(sorted(both))} may not be both granted and revoked",
            field="input.revoke",
        )
    if role == ADMIN and TENANT_CONFIGURE in revoked:
        raise BadUserInput(
            "tenant:configure may not be revoked from admin: nobody could change the "
            "permissions any more",
            field="input.revoke",
        )
    effective = (role_permissions(role, overrides) - revoked) | granted
    changed = {r: o for r, o in overrides.items() if r != role and o}
    override = override_for(role, effective)
    if override:
        changed[role] = override
    return changed


def _known(names: Iterable[str], field: str) -> frozenset[str]:
    given = frozenset(names)
    unknown = sorted(given - PERMISSIONS)
    if unknown:
        raise BadUserInput(
            f"unknown permission {unknown[0]!r}: permissions are 'module:action' as listed by "
            "rolePermissions",
            field=field,
        )
    return given


def refusal(
    what: str, permission: str, roles: Iterable[str], *, field: str | None = None
) -> Forbidden:
    """The denial when no role of the principal holds ``permission`` in its tenant."""
    names = ", ".join(sorted(roles)) or "none"
    return Forbidden(
        f"you may not {what}: your roles ({names}) do not hold {permission} in this tenant",
        permission=permission,
        field=field,
    )


class Actor(Protocol):
    """Who acts (`crm_common.auth.Principal`)."""

    @property
    def roles(self) -> frozenset[str]: ...

    def may(self, permission: str) -> bool: ...


def require(actor: Actor, permission: str, what: str, *, field: str | None = None) -> None:
    """`Forbidden` naming ``permission`` unless one of the actor's roles holds it."""
    if not actor.may(permission):
        raise refusal(what, permission, actor.roles, field=field)


# --- the stored and announced form (the settings document, the settings event) -------------


def overrides_from_document(raw: object) -> dict[str, RoleOverride]:
    """``{role: {"grants": [...], "revokes": [...]}}`` as stored; unknown shapes are skipped."""
    if not isinstance(raw, Mapping):
        return {}
    found: dict[str, RoleOverride] = {}
    for role, entry in raw.items():
        if not isinstance(role, str) or not isinstance(entry, Mapping):
            continue
        grants = frozenset(p for p in entry.get("grants") or () if isinstance(p, str))
        revokes = frozenset(p for p in entry.get("revokes") or () if isinstance(p, str))
        override = RoleOverride(grants=grants, revokes=revokes)
        if override:
            found[role] = override
    return found


def overrides_to_document(overrides: RoleOverrides) -> dict[str, dict[str, list[str]]]:
    return {
        role: {"grants": sorted(o.grants), "revokes": sorted(o.revokes)}
        for role, o in sorted(overrides.items())
        if o
    }


__all__ = [
    "ADMIN",
    "CATALOGUE",
    "DEFAULT_MATRIX",
    "MODULES",
    "PERMISSIONS",
    "ROLES",
    "TENANT_CONFIGURE",
    "Role",
    "RoleOverride",
    "RoleOverrides",
    "change_role",
    "default_permissions",
    "effective_permissions",
    "override_for",
    "overrides_from_document",
    "overrides_to_document",
    "refusal",
    "require",
    "role_permissions",
]
