"""Engagement rules under a tenant's role matrix (issue 18.3)."""

from __future__ import annotations

from crm_common.auth import Principal
from crm_common.permissions import change_role, role_permissions
from crm_engagement.domain.interaction import CustomerRef
from crm_engagement.domain.permissions import LOG, WRITE, may_see, may_write, sees_everything

CUSTOMER = CustomerRef(id="c", tenant_id="t", name="C", owner_id="alice", team="north")


def principal(role: str, *, grant: tuple[str, ...] = (), revoke: tuple[str, ...] = ()) -> Principal:
    overrides = change_role(role, grant, revoke, {})
    return Principal(
        user_id="someone",
        tenant_id="t",
        roles=frozenset({role}),
        role_grants={role: role_permissions(role, overrides)},
    )


def test_service_agents_log_interactions_by_default_but_do_not_schedule() -> None:
    agent = Principal(user_id="a", tenant_id="t", roles=frozenset({"service_agent"}))
    assert may_write(agent, CUSTOMER, LOG)
    assert not may_write(agent, CUSTOMER, WRITE)


def test_revoked_log_and_read() -> None:
    agent = principal("service_agent", revoke=("engagement:log",))
    assert not may_write(agent, CUSTOMER, LOG)
    analyst = principal("analyst", revoke=("engagement:read",))
    assert not may_see(analyst, CUSTOMER)
    assert not sees_everything(analyst)


def test_a_granted_write_reaches_what_the_role_reads() -> None:
    analyst = principal("analyst", grant=("engagement:write",))
    assert may_write(analyst, CUSTOMER)  # analysts read every customer
    rep = principal("sales_rep", grant=("engagement:configure",))
    assert not may_write(rep, CUSTOMER)  # not theirs


def test_a_rep_who_is_also_an_analyst_logs_only_for_their_own_customers() -> None:
    both = Principal(user_id="alice", tenant_id="t", roles=frozenset({"sales_rep", "analyst"}))
    assert may_see(both, CUSTOMER) and may_write(both, CUSTOMER, LOG)
    other = CustomerRef(id="d", tenant_id="t", name="D", owner_id="bob", team="south")
    assert may_see(both, other)
    assert not may_write(both, other, LOG)
