"""Security matrix from outside: every role × a read and a write per module × own/other tenant.

The expectations come from the product requirements ("sales rep: own customers; sales manager:
the team's; service agent: service data and customer basics; analyst: reports, contact details
masked; admin: all in the tenant"; docs/architecture.md, "Tenants and roles") as the services'
``domain/permissions.py`` spell it out. One shared
data set is created once per session in tenant A: a customer owned by sales rep ``rep-1`` of team
``north`` with a contact, an interaction, an opportunity and a ticket. Each role then acts as a
user of tenant A, and as a user with the *same user id and team* in tenant B (so only the tenant
separates them). Every denied write is checked by reading the data back: nothing changed.

Insights has no mutations, so its row has only a read. Survey tokens being single-use (and
forged or retired tokens refused) is proven in test_service_desk_surveys.py
(test_survey_token_works_once_without_login_and_forgeries_are_refused); not repeated here.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
import stack

from crm_common.auth import load_or_create_dev_secret
from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

ROLES = ["sales_rep", "sales_manager", "service_agent", "service_manager", "analyst", "admin"]
# Each role acts as this user (same id and team in both tenants).
USERS = {
    "sales_rep": ("rep-1", "north"),
    "sales_manager": ("mgr-1", "north"),
    "service_agent": ("agent-1", None),
    "service_manager": ("svcmgr-1", "north"),
    "analyst": ("analyst-1", None),
    "admin": ("admin-1", None),
}


@dataclass(frozen=True)
class World:
    config: stack.StackConfig
    tenant_a: str
    tenant_b: str
    customer_id: str
    interaction_id: str
    opportunity_id: str
    ticket_id: str

    def client(self, role: str, tenant: str, url: str | None = None) -> GraphQLClient:
        user_id, team = USERS[role]
        token = token_for(self.config.var_dir, tenant, [role], user_id=user_id, team=team)
        return GraphQLClient(url or self.config.gateway_url, token)


def subgraph_url(config: stack.StackConfig, name: str) -> str:
    component = next(c for c in stack.SERVICES if c.name == name)
    return f"{config.service_url(component)}/graphql"


async def _ok(client: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    return (await client.execute(query, variables)).ok()


@pytest.fixture(scope="session")
async def world(live_stack: stack.StackConfig) -> World:
    tenant_a, tenant_b = new_tenant(), new_tenant()
    config = live_stack
    base = World(config, tenant_a, tenant_b, "", "", "", "")
    admin = base.client("admin", tenant_a)
    rep = base.client("sales_rep", tenant_a)
    created = await _ok(
        admin,
        """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
             customer { id } } }""",
        {
            "input": {
                "name": "Matrix Steel Works",
                "industry": "steel",
                "ownerId": "rep-1",
                "team": "north",
                "contacts": [
                    {"name": "Li Lei", "phone": "+86 138 0013 8000", "email": "li.lei@steel.cn"}
                ],
            }
        },
    )
    customer_id = created["createCustomer"]["customer"]["id"]

    async def logged() -> str | None:
        response = await rep.execute(
            """mutation($input: LogInteractionInput!) { logInteraction(input: $input) {
                 interaction { id } } }""",
            {"input": {"customerId": customer_id, "kind": "PHONE_CALL", "content": "intro"}},
        )
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        return str(response.ok()["logInteraction"]["interaction"]["id"])

    async def opened_opportunity() -> str | None:
        response = await rep.execute(
            """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) {
                 opportunity { id } } }""",
            {"input": {"customerId": customer_id, "name": "Steel plant CRM"}},
        )
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        return str(response.ok()["createOpportunity"]["opportunity"]["id"])

    async def opened_ticket() -> str | None:
        response = await admin.execute(
            """mutation($input: OpenTicketInput!) { openTicket(input: $input) {
                 ticket { id } } }""",
            {"input": {"customerId": customer_id, "title": "Login broken"}},
        )
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        return str(response.ok()["openTicket"]["ticket"]["id"])

    return World(
        config,
        tenant_a,
        tenant_b,
        customer_id,
        await eventually(logged),
        await eventually(opened_opportunity),
        await eventually(opened_ticket),
    )


# --------------------------------------------------------------------------- reads

READS: dict[str, tuple[str, str]] = {
    # module: (query, the root field); $id is the shared record of that module.
    "customer": ("query($id: ID!) { customer(id: $id) { id name } }", "customer"),
    "engagement": ("query($id: ID!) { interaction(id: $id) { id kind } }", "interaction"),
    "quoting": ("query($id: ID!) { opportunity(id: $id) { id name } }", "opportunity"),
    "service_desk": ("query($id: ID!) { ticket(id: $id) { id title } }", "ticket"),
    "insights": ("{ customerCounts { total } }", "customerCounts"),
}

# "seen": the record comes back; "null": not visible to this user; an error code otherwise.
OWN_TENANT_READS: dict[str, dict[str, str]] = {
    "customer": dict.fromkeys(ROLES, "seen"),
    "engagement": dict.fromkeys(ROLES, "seen"),
    "quoting": {
        "sales_rep": "seen",  # the rep owns it
        "sales_manager": "seen",  # the team's
        "service_agent": "FORBIDDEN",  # no sales data for the service desk
        "service_manager": "FORBIDDEN",
        "analyst": "seen",
        "admin": "seen",
    },
    "service_desk": {
        "sales_rep": "seen",  # service data of the customers they own
        "sales_manager": "seen",  # ... of their team's customers
        "service_agent": "seen",  # the whole queue
        "service_manager": "null",  # their department's; this ticket has no department
        "analyst": "seen",
        "admin": "seen",
    },
    "insights": {
        "sales_rep": "FORBIDDEN",  # tenant-wide figures are for report readers
        "sales_manager": "seen",
        "service_agent": "FORBIDDEN",
        "service_manager": "seen",
        "analyst": "seen",
        "admin": "seen",
    },
}


def _other_tenant_read(module: str, role: str) -> str:
    """In another tenant a role keeps its role-level denials and sees none of tenant A."""
    own = OWN_TENANT_READS[module][role]
    if own == "FORBIDDEN":
        return own
    # insights answers with tenant B's own (empty) figures: "zero" checked below.
    return "zero" if module == "insights" else "null"


def _record_id(world: World, module: str) -> str:
    return {
        "customer": world.customer_id,
        "engagement": world.interaction_id,
        "quoting": world.opportunity_id,
        "service_desk": world.ticket_id,
        "insights": "",
    }[module]


READ_CASES = [
    pytest.param(module, role, other, id=f"{module}-{role}-{'other' if other else 'own'}")
    for module in READS
    for role in ROLES
    for other in (False, True)
]


@pytest.mark.federation_peer
@pytest.mark.parametrize(("module", "role", "other_tenant"), READ_CASES)
async def test_read(world: World, module: str, role: str, other_tenant: bool) -> None:
    query, root = READS[module]
    tenant = world.tenant_b if other_tenant else world.tenant_a
    expected = _other_tenant_read(module, role) if other_tenant else OWN_TENANT_READS[module][role]
    record_id = _record_id(world, module)
    response = await world.client(role, tenant).execute(
        query, {"id": record_id} if record_id else None
    )
    assert response.status == 200, response.body
    if expected in ("seen", "null", "zero"):
        assert not response.errors, response.errors
        value = response.data[root]
        if expected == "null":
            assert value is None
        elif expected == "zero":
            assert value == {"total": 0}
        elif module == "insights":
            assert isinstance(value["total"], int)
        else:
            assert value["id"] == record_id
    else:
        assert response.error_codes() == [expected], response.body
        assert not response.data or response.data.get(root) is None


# --------------------------------------------------------------------------- writes

SNAPSHOT = """query($id: ID!) { customer(id: $id) { industry
  interactions(first: 1) { totalCount } opportunities(first: 1) { totalCount }
  tickets(first: 1) { totalCount } } }"""
TENANT_TOTALS = """{ customers(first: 1) { totalCount } interactions(first: 1) { totalCount }
  opportunities(first: 1) { totalCount } tickets(first: 1) { totalCount } }"""

WRITES: dict[str, tuple[str, str]] = {
    "customer": (
        """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
             customer { id industry } } }""",
        "updateCustomer",
    ),
    "engagement": (
        """mutation($input: LogInteractionInput!) { logInteraction(input: $input) {
             interaction { id } } }""",
        "logInteraction",
    ),
    "quoting": (
        """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) {
             opportunity { id } } }""",
        "createOpportunity",
    ),
    "service_desk": (
        """mutation($input: OpenTicketInput!) { openTicket(input: $input) { ticket { id } } }""",
        "openTicket",
    ),
}

OWN_TENANT_WRITES: dict[str, dict[str, str]] = {
    # sales roles write their own / team's customers and records; admins everything.
    "customer": {
        "sales_rep": "ok",
        "sales_manager": "ok",
        "service_agent": "FORBIDDEN",
        "service_manager": "FORBIDDEN",
        "analyst": "FORBIDDEN",
        "admin": "ok",
    },
    # the write is logInteraction: service roles log their service calls (issue 18.3)
    "engagement": {
        "sales_rep": "ok",
        "sales_manager": "ok",
        "service_agent": "ok",
        "service_manager": "ok",
        "analyst": "FORBIDDEN",
        "admin": "ok",
    },
    "quoting": {
        "sales_rep": "ok",
        "sales_manager": "ok",
        "service_agent": "FORBIDDEN",
        "service_manager": "FORBIDDEN",
        "analyst": "FORBIDDEN",
        "admin": "ok",
    },
    # tickets are worked by the service desk, not by sales or analysts
    "service_desk": {
        "sales_rep": "FORBIDDEN",
        "sales_manager": "FORBIDDEN",
        "service_agent": "ok",
        "service_manager": "ok",
        "analyst": "FORBIDDEN",
        "admin": "ok",
    },
}


def _other_tenant_write(module: str, role: str) -> str:
    """Another tenant's customer does not exist for the caller.

    The customer service looks the record up first, so every role gets NOT_FOUND there; the
    other services check the role first, so a role that may not write is FORBIDDEN anyway. A
    writer there gets CUSTOMER_NOT_READY: an unknown customer id might be one created a moment
    ago, not yet copied (`crm_common.customers.copies.arriving_customer`), exactly as for an
    invented id; nothing tells it that the id exists in another tenant.
    """
    own = OWN_TENANT_WRITES[module][role]
    if module == "customer":
        return "NOT_FOUND"
    return "FORBIDDEN" if own == "FORBIDDEN" else "CUSTOMER_NOT_READY"


def _write_input(world: World, module: str, role: str) -> dict[str, Any]:
    return {
        "customer": {"id": world.customer_id, "industry": f"set-by-{role}"},
        "engagement": {"customerId": world.customer_id, "kind": "EMAIL", "content": role},
        "quoting": {"customerId": world.customer_id, "name": f"Deal by {role}"},
        "service_desk": {"customerId": world.customer_id, "title": f"Issue by {role}"},
    }[module]


WRITE_CASES = [
    pytest.param(
        module,
        role,
        other,
        id=f"{module}-{role}-{'other' if other else 'own'}",
    )
    for module in WRITES
    for role in ROLES
    for other in (False, True)
]


@pytest.mark.federation_peer
@pytest.mark.parametrize(("module", "role", "other_tenant"), WRITE_CASES)
async def test_write(world: World, module: str, role: str, other_tenant: bool) -> None:
    mutation, root = WRITES[module]
    tenant = world.tenant_b if other_tenant else world.tenant_a
    expected = (
        _other_tenant_write(module, role) if other_tenant else OWN_TENANT_WRITES[module][role]
    )
    admin_a = world.client("admin", world.tenant_a)
    admin_b = world.client("admin", world.tenant_b)
    before = await _ok(admin_a, SNAPSHOT, {"id": world.customer_id})
    # Only a caller in tenant B could leave something there.
    totals_b_before = await _ok(admin_b, TENANT_TOTALS) if other_tenant else None

    response = await world.client(role, tenant).execute(
        mutation, {"input": _write_input(world, module, role)}
    )

    assert response.status == 200, response.body
    after = await _ok(admin_a, SNAPSHOT, {"id": world.customer_id})
    if expected == "ok":
        assert not response.errors, response.errors
        assert response.data[root]
        if module == "customer":
            assert after["customer"]["industry"] == f"set-by-{role}"
        else:
            field = {"engagement": "interactions", "quoting": "opportunities"}.get(
                module, "tickets"
            )
            assert (
                after["customer"][field]["totalCount"]
                == before["customer"][field]["totalCount"] + 1
            )
        return
    assert response.error_codes() == [expected], response.body
    assert not response.data or response.data.get(root) is None
    # Denied: tenant A's data is as it was, and nothing appeared in tenant B either.
    assert after == before
    if other_tenant:
        assert await _ok(admin_b, TENANT_TOTALS) == totals_b_before


# ------------------------------------------------------- enforcement inside the services

DIRECT_CASES = [
    # (subgraph, role, caller in tenant B, module of the write, expected code)
    pytest.param("customer", "analyst", False, "customer", "FORBIDDEN", id="customer-analyst"),
    pytest.param(
        "engagement", "analyst", False, "engagement", "FORBIDDEN", id="engagement-analyst"
    ),
    pytest.param("quoting", "service_agent", False, "quoting", "FORBIDDEN", id="quoting-agent"),
    pytest.param(
        "service-desk", "sales_rep", False, "service_desk", "FORBIDDEN", id="service-desk-rep"
    ),
    pytest.param("customer", "admin", True, "customer", "NOT_FOUND", id="customer-other-tenant"),
]


@pytest.mark.parametrize(("subgraph", "role", "other_tenant", "module", "expected"), DIRECT_CASES)
async def test_write_denied_by_the_subgraph_itself(
    world: World, subgraph: str, role: str, other_tenant: bool, module: str, expected: str
) -> None:
    """Calling a subgraph directly (bypassing the gateway) meets the same rules."""
    tenant = world.tenant_b if other_tenant else world.tenant_a
    client = world.client(role, tenant, url=subgraph_url(world.config, subgraph))
    mutation, _ = WRITES[module]
    admin_a = world.client("admin", world.tenant_a)
    before = await _ok(admin_a, SNAPSHOT, {"id": world.customer_id})
    response = await client.execute(mutation, {"input": _write_input(world, module, role)})
    assert response.status == 200, response.body
    assert response.error_codes() == [expected], response.body
    assert await _ok(admin_a, SNAPSHOT, {"id": world.customer_id}) == before


async def test_other_tenant_reads_nothing_at_the_subgraph(world: World) -> None:
    url = subgraph_url(world.config, "customer")
    intruder = world.client("admin", world.tenant_b, url=url)
    data = await _ok(intruder, READS["customer"][0], {"id": world.customer_id})
    assert data == {"customer": None}
    listing = await _ok(intruder, "{ customers(first: 5) { totalCount } }")
    assert listing == {"customers": {"totalCount": 0}}


# --------------------------------------------------------------------------- masking

CONTACTS = """query($id: ID!) { customer(id: $id) {
  contacts { name phone email } primaryContact { phone email } } }"""


async def test_analyst_sees_contact_details_masked(world: World) -> None:
    admin = await _ok(world.client("admin", world.tenant_a), CONTACTS, {"id": world.customer_id})
    analyst = await _ok(
        world.client("analyst", world.tenant_a), CONTACTS, {"id": world.customer_id}
    )
    clear = admin["customer"]["contacts"][0]
    assert clear == {"name": "Li Lei", "phone": "+86 138 0013 8000", "email": "li.lei@steel.cn"}
    masked = analyst["customer"]["contacts"][0]
    assert masked["name"] == "Li Lei"
    for key in ("phone", "email"):
        assert masked[key] != clear[key]
        assert masked[key] is None or "*" in masked[key]
        assert analyst["customer"]["primaryContact"][key] == masked[key]
    # Nor can the analyst find the customer by searching on the masked details.
    found = await _ok(
        world.client("analyst", world.tenant_a),
        "query($s: String!) { customers(first: 5, search: $s) { totalCount } }",
        {"s": "li.lei@steel"},
    )
    assert found["customers"]["totalCount"] == 0


# --------------------------------------------------------------------------- bad tokens


def _claims(tenant: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "admin-1",
        "tenant": tenant,
        "roles": ["admin"],
        "iss": "crm-dev",
        "aud": "crm",
        "iat": now,
        "exp": now + 600,
    }


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _bad_tokens(config: stack.StackConfig, tenant: str) -> dict[str, str]:
    secret = load_or_create_dev_secret(config.var_dir / "dev-jwt-secret")
    expired = {**_claims(tenant), "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    no_tenant = {k: v for k, v in _claims(tenant).items() if k != "tenant"}
    return {
        "expired": jwt.encode(expired, secret, algorithm="HS256"),
        "wrong-key": jwt.encode(_claims(tenant), "not-the-key" * 4, algorithm="HS256"),
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(tenant))}.",
        "no-tenant": jwt.encode(no_tenant, secret, algorithm="HS256"),
        "wrong-audience": jwt.encode({**_claims(tenant), "aud": "other"}, secret, "HS256"),
        "garbage": "not.a.jwt",
    }


FORGED_CREATE = 'mutation { createCustomer(input: {name: "Forged Co"}) { customer { id } } }'
TOKEN_KINDS = ["expired", "wrong-key", "alg-none", "no-tenant", "wrong-audience", "garbage"]
TARGETS = ["gateway", "customer", "insights"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", TOKEN_KINDS)
async def test_bad_token_is_unauthenticated(world: World, kind: str, target: str) -> None:
    url = world.config.gateway_url if target == "gateway" else subgraph_url(world.config, target)
    token = _bad_tokens(world.config, world.tenant_a)[kind]
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            url,
            json={"query": FORGED_CREATE},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 401, response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert body.get("data") is None
    # The forged request created nothing.
    listing = await _ok(
        world.client("admin", world.tenant_a),
        '{ customers(first: 5, search: "Forged") { totalCount } }',
    )
    assert listing["customers"]["totalCount"] == 0
