"""The walking skeleton, end to end through the gateway with real processes.

A customer is created in one subgraph, engagement learns about it from Kafka, an interaction is
logged there, and the gateway stitches both into one answer. Tenants are isolated, calls
without a token are refused, bad input changes nothing, and one trace runs across it all.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest
import stack

from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id number name status } }
}
"""
LOG_INTERACTION = """
mutation Log($input: LogInteractionInput!) {
  logInteraction(input: $input) { interaction { id kind content customerId } }
}
"""
CUSTOMER_WITH_INTERACTIONS = """
query One($id: ID!) {
  customer(id: $id) {
    id number name
    interactions(first: 10) { totalCount edges { node { kind content } } }
  }
}
"""


def gateway(config: stack.StackConfig, tenant: str, roles: list[str], **kw: Any) -> GraphQLClient:
    return GraphQLClient(config.gateway_url, token_for(config.var_dir, tenant, roles, **kw))


async def create_customer(client: GraphQLClient, name: str, **fields: Any) -> dict[str, Any]:
    data = (await client.execute(CREATE_CUSTOMER, {"input": {"name": name, **fields}})).ok()
    customer: dict[str, Any] = data["createCustomer"]["customer"]
    return customer


async def log_interaction_when_known(client: GraphQLClient, customer_id: str) -> dict[str, Any]:
    """Engagement knows a customer once its `customer.created` event has arrived."""

    async def attempt() -> dict[str, Any] | None:
        response = await client.execute(
            LOG_INTERACTION,
            {"input": {"customerId": customer_id, "kind": "PHONE_CALL", "content": "first call"}},
        )
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        interaction: dict[str, Any] = response.ok()["logInteraction"]["interaction"]
        return interaction

    return await eventually(attempt)


@pytest.mark.federation_peer
async def test_customer_and_interaction_through_the_gateway(live_stack: stack.StackConfig) -> None:
    client = gateway(live_stack, new_tenant(), ["sales_rep"])
    customer = await create_customer(client, "Hangzhou West Lake Tea Co., Ltd.", industry="retail")
    assert customer["number"].startswith("CUS") and len(customer["number"]) == 14
    assert customer["status"] == "PENDING_REVIEW"

    interaction = await log_interaction_when_known(client, customer["id"])
    assert interaction["customerId"] == customer["id"]

    data = (await client.execute(CUSTOMER_WITH_INTERACTIONS, {"id": customer["id"]})).ok()
    assert data["customer"]["number"] == customer["number"]
    assert data["customer"]["interactions"]["totalCount"] == 1
    assert data["customer"]["interactions"]["edges"][0]["node"] == {
        "kind": "PHONE_CALL",
        "content": "first call",
    }


async def test_customer_numbers_follow_a_daily_sequence(live_stack: stack.StackConfig) -> None:
    client = gateway(live_stack, new_tenant(), ["sales_manager"], team="north")
    numbers = [(await create_customer(client, f"Sequence Co {i}"))["number"] for i in range(3)]
    sequences = [int(n[-3:]) for n in numbers]
    assert sequences == [1, 2, 3]  # a fresh tenant starts its day at 001


@pytest.mark.federation_peer
async def test_second_tenant_sees_nothing_of_the_first(live_stack: stack.StackConfig) -> None:
    owner = gateway(live_stack, new_tenant(), ["admin"])
    customer = await create_customer(owner, "Tenant A Secret Customer")
    await log_interaction_when_known(owner, customer["id"])

    intruder = gateway(live_stack, new_tenant(), ["admin"])
    data = (await intruder.execute(CUSTOMER_WITH_INTERACTIONS, {"id": customer["id"]})).ok()
    assert data["customer"] is None
    listing = (
        await intruder.execute("{ customers(first: 50) { totalCount edges { node { id } } } }")
    ).ok()
    assert listing["customers"]["totalCount"] == 0
    denied = await intruder.execute(
        LOG_INTERACTION,
        {"input": {"customerId": customer["id"], "kind": "EMAIL", "content": "hello"}},
    )
    # Unknown to the intruder's tenant, exactly like an id of a customer not copied yet (it
    # might be one being set up): the retryable answer after the bounded wait, nothing stored.
    assert denied.error_codes() == ["CUSTOMER_NOT_READY"]
    # The same name is free in another tenant: uniqueness is per tenant.
    await create_customer(intruder, "Tenant A Secret Customer")
    # And the owner still sees exactly one interaction.
    mine = (await owner.execute(CUSTOMER_WITH_INTERACTIONS, {"id": customer["id"]})).ok()
    assert mine["customer"]["interactions"]["totalCount"] == 1


@pytest.mark.federation_peer
async def test_a_sales_rep_sees_only_their_own_customers(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    alice = gateway(live_stack, tenant, ["sales_rep"], user_id="alice")
    bob = gateway(live_stack, tenant, ["sales_rep"], user_id="bob")
    admin = gateway(live_stack, tenant, ["admin"])
    customer = await create_customer(alice, "Alice's Account Ltd")
    assert (await bob.execute(CUSTOMER_WITH_INTERACTIONS, {"id": customer["id"]})).ok()[
        "customer"
    ] is None
    seen = (await admin.execute(CUSTOMER_WITH_INTERACTIONS, {"id": customer["id"]})).ok()
    assert seen["customer"]["id"] == customer["id"]
    analyst = gateway(live_stack, tenant, ["analyst"])
    refused = await analyst.execute(CREATE_CUSTOMER, {"input": {"name": "Not Allowed Co"}})
    assert refused.error_codes() == ["FORBIDDEN"]


async def test_requests_without_a_valid_token_are_refused(live_stack: stack.StackConfig) -> None:
    anonymous = GraphQLClient(live_stack.gateway_url, None)
    response = await anonymous.execute("{ customers { totalCount } }")
    assert response.status == 401
    assert response.error_codes() == ["UNAUTHENTICATED"]

    forged = GraphQLClient(
        live_stack.gateway_url,
        token_for(live_stack.var_dir / "elsewhere", new_tenant(), ["admin"]),
    )
    assert (await forged.execute("{ customers { totalCount } }")).status == 401

    # Subgraphs check the token themselves: going around the gateway does not help.
    for component in stack.SERVICES:
        direct = GraphQLClient(f"{live_stack.service_url(component)}/graphql", None)
        refused = await direct.execute("{ __schema { types { name } } }")
        assert refused.status == 401, component.name


@pytest.mark.federation_peer
async def test_bad_input_is_named_and_changes_nothing(live_stack: stack.StackConfig) -> None:
    client = gateway(live_stack, new_tenant(), ["sales_rep"])
    response = await client.execute(CREATE_CUSTOMER, {"input": {"name": "   "}})
    assert response.error_codes() == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == "input.name"
    assert "Traceback" not in json.dumps(response.body)

    customer = await create_customer(client, "Real Customer Ltd")
    duplicate = await client.execute(CREATE_CUSTOMER, {"input": {"name": "  REAL customer ltd. "}})
    assert duplicate.error_codes() == ["CONFLICT"]
    assert duplicate.errors[0]["extensions"]["existingCustomerId"] == customer["id"]

    unknown = await client.execute(
        LOG_INTERACTION,
        {"input": {"customerId": "no-such-customer", "kind": "VISIT", "content": "x"}},
    )
    assert unknown.error_codes() == ["NOT_FOUND"]
    assert unknown.errors[0]["extensions"]["field"] == "input.customerId"

    await log_interaction_when_known(client, customer["id"])
    empty = await client.execute(
        LOG_INTERACTION, {"input": {"customerId": customer["id"], "kind": "VISIT", "content": ""}}
    )
    assert empty.error_codes() == ["BAD_USER_INPUT"]
    assert empty.errors[0]["extensions"]["field"] == "input.content"

    listing = (await client.execute("{ customers { totalCount } }")).ok()
    assert listing["customers"]["totalCount"] == 1
    detail = (await client.execute(CUSTOMER_WITH_INTERACTIONS, {"id": customer["id"]})).ok()
    assert detail["customer"]["interactions"]["totalCount"] == 1


@pytest.mark.federation_peer
async def test_customers_page_with_cursors_and_filters(live_stack: stack.StackConfig) -> None:
    client = gateway(live_stack, new_tenant(), ["admin"])
    for name in ["Alpha Ltd", "Beta Ltd", "Gamma Ltd", "Delta Ltd", "Alphabet Inc"]:
        await create_customer(client, name, tags=["key-account"] if "Alpha" in name else [])
    query = """
    query Page($after: String, $filter: CustomerFilter) {
      customers(first: 2, after: $after, filter: $filter, orderBy: {field: NAME, direction: ASC}) {
        totalCount edges { node { name } cursor } pageInfo { hasNextPage endCursor }
      }
    }"""
    names: list[str] = []
    after = None
    while True:
        page = (await client.execute(query, {"after": after})).ok()["customers"]
        assert page["totalCount"] == 5
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == sorted(names) and len(names) == 5

    filtered = (
        await client.execute(
            query,
            {"filter": {"name": {"startsWith": "alpha"}, "tags": {"contains": "key-account"}}},
        )
    ).ok()["customers"]
    assert filtered["totalCount"] == 2
    # A Mongo operator sent as a value is just text: it matches nothing and breaks nothing.
    injected = (await client.execute(query, {"filter": {"name": {"eq": '{"$ne": null}'}}})).ok()[
        "customers"
    ]
    assert injected["totalCount"] == 0


async def test_one_trace_runs_gateway_customer_kafka_engagement(
    live_stack: stack.StackConfig,
) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    client = gateway(live_stack, new_tenant(), ["sales_rep"])
    response = await client.execute(
        CREATE_CUSTOMER,
        {"input": {"name": "Traced Customer Co"}},
        headers={"traceparent": traceparent},
    )
    response.ok()
    trace_file = live_stack.var_dir / "traces.jsonl"

    async def spans_of_trace() -> list[dict[str, Any]] | None:
        if not trace_file.exists():
            return None
        spans = [
            span
            for line in trace_file.read_text().splitlines()
            if (span := json.loads(line))["trace_id"] == trace_id
        ]
        names = {(s["service"], s["name"]) for s in spans}
        wanted = {
            ("customer", "crm.customer.v1 publish"),
            ("engagement", "crm.customer.v1 process"),
            ("insights", "crm.customer.v1 process"),
        }
        return spans if wanted <= names else None

    spans = await eventually(spans_of_trace, timeout_s=60)
    services = {span["service"] for span in spans}
    assert {"gateway", "customer", "engagement", "insights"} <= services
    publish = next(s for s in spans if s["name"] == "crm.customer.v1 publish")
    assert publish["kind"] == "PRODUCER"
    # Every consumer hangs below the outbox relay's publish span, in the mutation's trace.
    for service in ("engagement", "insights"):
        consumer = next(
            s for s in spans if s["service"] == service and s["name"] == "crm.customer.v1 process"
        )
        assert consumer["kind"] == "CONSUMER"
        assert consumer["parent_span_id"] == publish["span_id"], service


async def test_background_polls_start_no_traces(live_stack: stack.StackConfig) -> None:
    """Idle loops (outbox polls, due-loop sweeps, leases) leave no one-span traces behind:
    a database or HTTP client call is only recorded inside a request's or an event's trace."""
    trace_file = live_stack.var_dir / "traces.jsonl"
    assert trace_file.exists()  # the stack's own readiness checks are traced
    orphans = [
        span
        for line in trace_file.read_text().splitlines()
        if (span := json.loads(line))["kind"] == "CLIENT" and span["parent_span_id"] is None
    ]
    assert orphans == []


async def test_health_and_readiness(live_stack: stack.StackConfig) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for component in stack.SERVICES:
            base = live_stack.service_url(component)
            assert (await http.get(f"{base}/healthz")).status_code == 200
            ready = await http.get(f"{base}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"mongodb": True, "kafka": True}
            metrics = await http.get(f"{base}/metrics")
            assert "crm_http_requests_total" in metrics.text
        gateway_health = await http.get(f"http://127.0.0.1:{live_stack.base_port}/healthz")
        assert gateway_health.status_code == 200
