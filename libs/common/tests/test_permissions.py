"""The role → permission matrix (crm_common.permissions): the defaults are the role sets each
service's ``domain/permissions.py`` held in code before tenants could change them (a table
per service), and a tenant's grants and revokes change exactly what they name."""

from __future__ import annotations

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden
from crm_common.permissions import (
    CATALOGUE,
    DEFAULT_MATRIX,
    PERMISSIONS,
    ROLES,
    TENANT_CONFIGURE,
    RoleOverride,
    change_role,
    effective_permissions,
    overrides_from_document,
    overrides_to_document,
    require,
    role_permissions,
)

SR, SM, SA, SVM, AN, AD = (
    Role.SALES_REP,
    Role.SALES_MANAGER,
    Role.SERVICE_AGENT,
    Role.SERVICE_MANAGER,
    Role.ANALYST,
    Role.ADMIN,
)
EVERYONE = set(Role)

# The role sets as the services held them in code (before issue 18.3), per permission;
# engagement:log adds the service roles (issue 18.3: service agents log their service work).
OLD_ROLE_SETS: dict[str, set[str]] = {
    # customer: _WRITERS, _READERS, SALES_MANAGER/ADMIN checks, history = writers + analyst
    "customer:read": {SR, SM, AD, SA, SVM, AN},
    "customer:create": {SR, SM, AD},
    "customer:write": {SR, SM, AD},
    "customer:deliver": {SA, SVM},  # _DELIVERABLE_UPLOADERS
    "customer:assign": {SM, AD},
    "customer:review": {SM, AD},
    "customer:merge": {SM, AD},
    "customer:import": {SR, SM, AD},
    "customer:history": {SR, SM, AD, AN},
    # engagement: _READ_ALL + WRITERS read; WRITERS write; require_admin
    "engagement:read": EVERYONE,
    "engagement:log": {SR, SM, AD, SA, SVM},
    "engagement:write": {SR, SM, AD},
    "engagement:assign": {SM, AD},
    "engagement:plan": {SM, AD},
    "engagement:configure": {AD},
    # quoting: _WRITERS, _TENANT_READERS + sales readers, approvers, catalogue admins
    "quoting:read": {SR, SM, AD, AN},
    "quoting:create": {SR, SM, AD},
    "quoting:write": {SR, SM, AD},
    "quoting:approve": {SM, AD},
    "quoting:configure": {AD},
    # service desk: _READERS, _WORKERS, _CONFIGURERS, _TEMPLATE_EDITORS
    "servicedesk:read": EVERYONE,
    "servicedesk:work": {SA, SVM, AD},
    "servicedesk:templates": {SVM, AD},
    "servicedesk:tasks": {SVM, AD},
    "servicedesk:configure": {AD},
    # insights: REPORT_READERS; sales reps their own numbers
    "insights:reports": {AD, AN, SM, SVM},
    "insights:read": {AD, AN, SM, SVM, SR},
    # tenant settings, custom fields, value tiers: admin
    TENANT_CONFIGURE: {AD},
}


@pytest.mark.parametrize("permission", sorted(OLD_ROLE_SETS))
def test_the_default_matrix_is_the_old_role_sets(permission: str) -> None:
    holders = {role for role in ROLES if permission in DEFAULT_MATRIX[role]}
    assert holders == {str(r) for r in OLD_ROLE_SETS[permission]}


def test_every_permission_is_described_and_named_module_action() -> None:
    assert set(OLD_ROLE_SETS) == PERMISSIONS
    for name, text in CATALOGUE.items():
        module, _, action = name.partition(":")
        assert module and action and text.strip()
    assert set(ROLES) == {str(r) for r in Role}


def test_a_principal_without_resolved_permissions_holds_the_defaults() -> None:
    rep = Principal(user_id="u", tenant_id="t", roles=frozenset({"sales_rep"}))
    assert rep.may("quoting:create")
    assert not rep.may("quoting:approve")
    assert rep.held_permissions() == DEFAULT_MATRIX["sales_rep"]


def test_revoke_and_grant_change_only_what_they_name() -> None:
    overrides = change_role("sales_rep", [], ["quoting:create"], {})
    assert overrides == {"sales_rep": RoleOverride(revokes=frozenset({"quoting:create"}))}
    held = role_permissions("sales_rep", overrides)
    assert held == DEFAULT_MATRIX["sales_rep"] - {"quoting:create"}
    assert role_permissions("sales_manager", overrides) == DEFAULT_MATRIX["sales_manager"]
    # A second change for another role keeps the first.
    overrides = change_role("analyst", ["quoting:write"], [], overrides)
    assert "quoting:write" in role_permissions("analyst", overrides)
    assert "quoting:create" not in role_permissions("sales_rep", overrides)
    # Granting it back returns to the default: nothing stored for the role.
    overrides = change_role("sales_rep", ["quoting:create"], [], overrides)
    assert "sales_rep" not in overrides


def test_a_principal_with_several_roles_holds_their_union() -> None:
    overrides = change_role("sales_rep", [], ["customer:write"], {})
    held = effective_permissions(["sales_rep", "sales_manager"], overrides)
    assert "customer:write" in held
    assert "customer:write" not in effective_permissions(["sales_rep"], overrides)
    assert effective_permissions(["auditor"], overrides) == frozenset()


@pytest.mark.parametrize(
    ("role", "grant", "revoke", "field"),
    [
        ("superuser", [], [], "input.role"),
        ("sales_rep", ["quoting:fly"], [], "input.grant"),
        ("sales_rep", [], ["nothing"], "input.revoke"),
        ("sales_rep", ["quoting:create"], ["quoting:create"], "input.revoke"),
        ("admin", [], [TENANT_CONFIGURE], "input.revoke"),
    ],
)
def test_bad_changes_name_the_field(
    role: str, grant: list[str], revoke: list[str], field: str
) -> None:
    with pytest.raises(BadUserInput) as caught:
        change_role(role, grant, revoke, {})
    assert caught.value.field == field


def test_the_admin_keeps_tenant_configure_even_from_a_stored_revoke() -> None:
    stored = {"admin": RoleOverride(revokes=frozenset({TENANT_CONFIGURE, "quoting:configure"}))}
    held = role_permissions("admin", stored)
    assert TENANT_CONFIGURE in held
    assert "quoting:configure" not in held


def test_the_stored_form_round_trips_and_tolerates_junk() -> None:
    overrides = change_role("service_agent", ["customer:write"], ["servicedesk:work"], {})
    assert overrides_from_document(overrides_to_document(overrides)) == overrides
    assert overrides_from_document({"x": "junk", 3: {}, "analyst": {"grants": [1]}}) == {}
    assert overrides_from_document(None) == {}
    # A permission a later release no longer knows is ignored, not granted.
    unknown = overrides_from_document({"analyst": {"grants": ["old:thing"]}})
    assert role_permissions("analyst", unknown) == DEFAULT_MATRIX["analyst"]


def test_require_names_the_permission() -> None:
    rep = Principal(
        user_id="u",
        tenant_id="t",
        roles=frozenset({"sales_rep"}),
        role_grants={"sales_rep": frozenset({"customer:read"})},
    )
    with pytest.raises(Forbidden) as caught:
        require(rep, "customer:write", "change customers")
    assert caught.value.details["permission"] == "customer:write"
    assert "customer:write" in caught.value.message
