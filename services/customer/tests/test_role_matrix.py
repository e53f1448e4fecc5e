"""Customer rules under a tenant's role matrix (issue 18.3): the matrix decides whether a role
may act, the role-derived visibility which customers it acts on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from crm_common.auth import Principal
from crm_common.errors import Forbidden
from crm_common.permissions import change_role, role_permissions
from crm_customer.domain import permissions
from crm_customer.domain.customer import Customer, CustomerStatus, Profile

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def customer(**changes: object) -> Customer:
    base = Customer(
        id="c1",
        tenant_id="t1",
        number="CUS20261205001",
        profile=Profile(name="Acme"),
        status=CustomerStatus.PENDING_REVIEW,
        owner_id="rep-1",
        created_at=NOW,
        updated_at=NOW,
        team="north",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def principal(
    role: str, grant: tuple[str, ...] = (), revoke: tuple[str, ...] = (), **kw: str | None
) -> Principal:
    overrides = change_role(role, grant, revoke, {})
    return Principal(
        user_id=kw.get("user") or "rep-1",
        tenant_id="t1",
        roles=frozenset({role}),
        team=kw.get("team", "north"),
        role_grants={role: role_permissions(role, overrides)},
    )


def test_a_rep_without_customer_write_may_not_change_their_own_customer() -> None:
    rep = principal("sales_rep", revoke=("customer:write",))
    with pytest.raises(Forbidden) as err:
        permissions.can_write(rep, customer())
    assert err.value.extensions()["permission"] == "customer:write"
    assert "do not hold customer:write" in err.value.message
    permissions.visibility(rep)  # still reads


def test_a_granted_write_acts_within_what_the_role_reads() -> None:
    agent = principal("service_agent", grant=("customer:write",), user="agent-1", team=None)
    permissions.can_write(agent, customer())  # service agents read every customer
    rep = principal("sales_rep", grant=("customer:merge",), user="rep-1")
    permissions.can_merge(rep, customer(), customer(id="c2"))
    with pytest.raises(Forbidden):
        permissions.can_merge(rep, customer(), customer(id="c2", owner_id="rep-2"))


def test_revoked_read_refuses_the_list_naming_the_permission() -> None:
    analyst = principal("analyst", revoke=("customer:read",))
    with pytest.raises(Forbidden) as err:
        permissions.visibility(analyst)
    assert err.value.extensions()["permission"] == "customer:read"


def test_review_and_assign_follow_the_matrix() -> None:
    manager = principal("sales_manager", revoke=("customer:review",), user="m-1")
    with pytest.raises(Forbidden) as err:
        permissions.can_review(manager, customer())
    assert err.value.extensions()["permission"] == "customer:review"
    rep = principal("sales_rep", grant=("customer:assign",))
    permissions.can_assign_on_create(rep, "someone-else")
    permissions.can_assign_contact(rep, "rep-1", "someone-else")


def test_custom_fields_need_tenant_configure() -> None:
    manager = principal("sales_manager", grant=("tenant:configure",), user="m-1")
    permissions.can_define_custom_fields(manager)
    with pytest.raises(Forbidden) as err:
        permissions.can_set_value_tiers(principal("sales_rep"))
    assert err.value.extensions()["permission"] == "tenant:configure"


def test_deliverables_follow_customer_deliver() -> None:
    agent = principal("service_agent", revoke=("customer:deliver",), user="agent-1", team=None)
    with pytest.raises(Forbidden):
        permissions.can_upload_file(agent, customer(), "DELIVERABLE")


def test_several_roles_write_within_the_writing_roles_view() -> None:
    """A rep who is also an analyst reads every customer but writes only their own: a write
    acts within the visibility of the roles that hold it."""
    both = Principal(user_id="rep-1", tenant_id="t1", roles=frozenset({"sales_rep", "analyst"}))
    assert permissions.visibility(both).everything
    permissions.can_write(both, customer())
    with pytest.raises(Forbidden):
        permissions.can_write(both, customer(owner_id="rep-2", team="south"))
    # Granting the analyst role write makes its whole view writable.
    grants = {
        "sales_rep": role_permissions("sales_rep", {}),
        "analyst": frozenset(
            role_permissions("analyst", change_role("analyst", ["customer:write"], [], {}))
        ),
    }
    widened = dataclasses.replace(both, role_grants=grants)
    permissions.can_write(widened, customer(owner_id="rep-2", team="south"))
