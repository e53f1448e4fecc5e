"""Roles a tenant can shape (issue 18.3), through the gateway, on the real store and broker.

An admin revokes and grants back a permission of a role; every service follows without a
restart (the customer service owns the settings, the others apply its event; each process
caches a tenant's settings for TENANT_SETTINGS_CACHE_TTL_S, short in the e2e stack), so the
tests poll with generous bounds. Another tenant is never affected; the history says who
changed what; a sales rep may not change the matrix; service agents log interactions by
default.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack

from tests.e2e.client import GraphQLClient, GraphQLResponse, eventually, new_tenant
from tests.e2e.engagement_support import client, known_customer
from tests.support.replicas import until

pytestmark = [pytest.mark.e2e]

UPDATE = """mutation($i: UpdateRolePermissionsInput!) {
  updateRolePermissions(input: $i) { version role { role granted } } }"""
MATRIX = """{ rolePermissions {
  roles { role granted permissions { permission granted byDefault changed description } }
  changes { version actorId role granted revoked permissionsBefore permissionsAfter } } }"""
CATALOGUE = "{ rolePermissions { catalogue { name module action description } } }"
OPEN = """mutation($i: CreateOpportunityInput!) {
  createOpportunity(input: $i) { opportunity { id } } }"""
QUOTE = """mutation($i: CreateQuoteInput!) { createQuote(input: $i) { quote { id } } }"""
LOG = """mutation($i: LogInteractionInput!) {
  logInteraction(input: $i) { interaction { id kind } } }"""


def _valid_until() -> str:
    return (datetime.now(UTC).date() + timedelta(days=30)).isoformat()


async def _opportunity(rep: GraphQLClient, name: str) -> str:
    customer = (
        await rep.execute(
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }",
            {"i": {"name": name}},
        )
    ).ok()["createCustomer"]["customer"]["id"]

    async def opened() -> str | None:
        response = await rep.execute(OPEN, {"i": {"customerId": customer, "name": "Seats"}})
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None  # quoting learns the new customer from Kafka a moment later
        opportunity: str = response.ok()["createOpportunity"]["opportunity"]["id"]
        return opportunity

    found: str = await eventually(opened, timeout_s=60)
    return found


async def _quote(rep: GraphQLClient, opportunity: str) -> GraphQLResponse:
    line = {"description": "Workshop", "unit": "day", "quantity": "1", "unitPriceMinor": "100000"}
    return await rep.execute(
        QUOTE,
        {
            "i": {
                "opportunityId": opportunity,
                "currency": "CNY",
                "validUntil": _valid_until(),
                "lines": [{**line, "taxRateBp": 600}],
            }
        },
    )


def _row(matrix: dict[str, Any], role: str, permission: str) -> dict[str, Any]:
    (entry,) = [r for r in matrix["roles"] if r["role"] == role]
    (row,) = [p for p in entry["permissions"] if p["permission"] == permission]
    return dict(row)


async def test_an_admin_revokes_and_grants_back_quote_creation(
    live_stack: stack.StackConfig,
) -> None:
    tenant, other = new_tenant(), new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
    other_rep = client(live_stack, other, ["sales_rep"], user_id="rep")
    opportunity = await _opportunity(rep, "Roles Co")
    theirs = await _opportunity(other_rep, "Other Tenant Co")
    _ = (await _quote(rep, opportunity)).ok()

    # The defaults, described; only tenant:configure reads or changes them.
    catalogue = (await admin.execute(CATALOGUE)).ok()["rolePermissions"]["catalogue"]
    assert {"name": "quoting:create", "module": "quoting", "action": "create"}.items() <= {
        **next(c for c in catalogue if c["name"] == "quoting:create")
    }.items()
    assert all(c["description"] for c in catalogue)
    before = (await admin.execute(MATRIX)).ok()["rolePermissions"]
    assert _row(before, "sales_rep", "quoting:create")["granted"] is True
    assert before["changes"] == []
    refused = await rep.execute(UPDATE, {"i": {"role": "sales_rep", "grant": ["quoting:approve"]}})
    assert refused.error_codes() == ["FORBIDDEN"]
    assert refused.errors[0]["extensions"]["permission"] == "tenant:configure"
    assert (await rep.execute(MATRIX)).error_codes() == ["FORBIDDEN"]

    # Bad input names its field and changes nothing.
    for bad, field in (
        ({"role": "superuser", "revoke": ["quoting:create"]}, "input.role"),
        ({"role": "sales_rep", "grant": ["quoting:fly"]}, "input.grant"),
        ({"role": "sales_rep", "revoke": ["quoting:create", "nope:x"]}, "input.revoke"),
        ({"role": "admin", "revoke": ["tenant:configure"]}, "input.revoke"),
    ):
        wrong = await admin.execute(UPDATE, {"i": bad})
        assert wrong.error_codes() == ["BAD_USER_INPUT"], (bad, wrong.body)
        assert wrong.errors[0]["extensions"]["field"] == field
    assert (await admin.execute(MATRIX)).ok()["rolePermissions"] == before

    # Revoke: quoting (another service) follows through the settings event.
    changed = (
        await admin.execute(UPDATE, {"i": {"role": "sales_rep", "revoke": ["quoting:create"]}})
    ).ok()["updateRolePermissions"]
    assert changed["version"] == 1
    assert "quoting:create" not in changed["role"]["granted"]

    async def forbidden() -> bool:
        response = await _quote(rep, opportunity)
        if response.error_codes() != ["FORBIDDEN"]:
            return False
        assert response.errors[0]["extensions"]["permission"] == "quoting:create"
        return True

    await until(forbidden, timeout_s=120, what="quoting refuses the rep's createQuote")
    after = (await admin.execute(MATRIX)).ok()["rolePermissions"]
    assert _row(after, "sales_rep", "quoting:create") | {"description": ""} == {
        "permission": "quoting:create",
        "granted": False,
        "byDefault": True,
        "changed": True,
        "description": "",
    }
    assert _row(after, "sales_manager", "quoting:create")["granted"] is True
    # Another tenant keeps the default.
    _ = (await _quote(other_rep, theirs)).ok()
    other_admin = client(live_stack, other, ["admin"])
    kept = (await other_admin.execute(MATRIX)).ok()["rolePermissions"]
    assert _row(kept, "sales_rep", "quoting:create")["changed"] is False

    # Another setting's change (the time zone) keeps the role's change, here and in quoting.
    zone = """mutation($i: UpdateTenantSettingsInput!) {
      updateTenantSettings(input: $i) { settings { version } } }"""
    assert (await admin.execute(zone, {"i": {"timeZone": "UTC"}})).ok()["updateTenantSettings"][
        "settings"
    ]["version"] == 2
    kept_here = (await admin.execute(MATRIX)).ok()["rolePermissions"]
    assert _row(kept_here, "sales_rep", "quoting:create")["granted"] is False
    assert (await _quote(rep, opportunity)).error_codes() == ["FORBIDDEN"]

    # Grant it back: the rep creates quotes again.
    (await admin.execute(UPDATE, {"i": {"role": "sales_rep", "grant": ["quoting:create"]}})).ok()

    async def allowed() -> bool:
        return not (await _quote(rep, opportunity)).errors

    await until(allowed, timeout_s=120, what="quoting lets the rep create quotes again")

    # Both changes are audited: who, before, after.
    history = (await admin.execute(MATRIX)).ok()["rolePermissions"]["changes"]
    assert [(c["version"], c["role"], c["granted"], c["revoked"]) for c in history] == [
        (3, "sales_rep", ["quoting:create"], []),
        (1, "sales_rep", [], ["quoting:create"]),
    ]
    assert {c["actorId"] for c in history} == {"boss"}
    assert "quoting:create" in history[1]["permissionsBefore"]
    assert "quoting:create" not in history[1]["permissionsAfter"]


async def test_service_agents_log_interactions_until_revoked(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent")
    customer = await known_customer(rep, "Serviced Co")
    call = {"customerId": customer, "kind": "PHONE_CALL", "content": "installed the update"}

    # By default a service agent logs their service calls with any customer (they see all).
    logged = (await agent.execute(LOG, {"i": call})).ok()["logInteraction"]
    assert logged["interaction"]["kind"] == "PHONE_CALL"
    mine = (await agent.execute("{ myPermissions }")).ok()["myPermissions"]
    assert "engagement:log" in mine and "customer:deliver" in mine

    # The tenant may take it away: engagement follows through the settings event, and the
    # customer service (the owner) answers myPermissions from its own master document.
    (
        await admin.execute(UPDATE, {"i": {"role": "service_agent", "revoke": ["engagement:log"]}})
    ).ok()

    async def refused() -> bool:
        response = await agent.execute(LOG, {"i": call})
        if response.error_codes() != ["FORBIDDEN"]:
            return False
        assert response.errors[0]["extensions"]["permission"] == "engagement:log"
        return True

    await until(refused, timeout_s=120, what="engagement refuses the agent's interaction")

    async def owner_knows() -> bool:
        held = (await agent.execute("{ myPermissions }")).ok()["myPermissions"]
        return "engagement:log" not in held

    await until(owner_knows, timeout_s=120, what="the customer service's myPermissions")
