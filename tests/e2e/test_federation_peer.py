"""Our subgraphs behind any standard gateway: one customer resolved in all five subgraphs in
one operation (``_entities`` on each service), errors from a root field and from an entity
fetch keeping their code, and a caller's identity reaching every subgraph.

Marked ``federation_peer``: `make test` runs it through crm_gateway, `make
test-federation-peer` (E2E_GATEWAY=hive) through Hive Gateway over the same supergraph
(tests/support/federation_peer.py). The assertions hold for both: only what the federation
spec and the GraphQL spec promise, nothing particular to our gateway.
"""

from __future__ import annotations

from typing import Any

import pytest
import stack

from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e, pytest.mark.federation_peer]

EVERY_SUBGRAPH = """
query Everywhere($id: ID!) {
  customer(id: $id) {
    id name status
    lastInteractionAt
    interactions(first: 5) { totalCount edges { node { kind content } } }
    opportunities(first: 5) { totalCount edges { node { name } } }
    tickets(first: 5) { totalCount edges { node { title } } }
    health { churnRisk churnWarning }
  }
}
"""


def client(config: stack.StackConfig, tenant: str, role: str, user_id: str) -> GraphQLClient:
    token = token_for(config.var_dir, tenant, [role], user_id=user_id, team="north")
    return GraphQLClient(config.gateway_url, token)


async def when_known(
    client: GraphQLClient, mutation: str, field: str, payload: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """A subgraph knows a customer once its `customer.created` event has arrived."""

    async def attempt() -> dict[str, Any] | None:
        response = await client.execute(mutation, variables)
        if response.error_codes() == ["NOT_FOUND"]:
            return None
        result: dict[str, Any] = response.ok()[field][payload]
        return result

    return await eventually(attempt)


async def test_one_customer_resolved_in_every_subgraph(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, "admin", "admin-1")
    created = (
        await admin.execute(
            """mutation($input: CreateCustomerInput!) {
                 createCustomer(input: $input) { customer { id } } }""",
            {"input": {"name": "Peer Gateway Textiles", "ownerId": "admin-1", "team": "north"}},
        )
    ).ok()
    customer_id = created["createCustomer"]["customer"]["id"]
    await when_known(
        admin,
        """mutation($input: LogInteractionInput!) {
             logInteraction(input: $input) { interaction { id } } }""",
        "logInteraction",
        "interaction",
        {"input": {"customerId": customer_id, "kind": "PHONE_CALL", "content": "hello"}},
    )
    await when_known(
        admin,
        """mutation($input: CreateOpportunityInput!) {
             createOpportunity(input: $input) { opportunity { id } } }""",
        "createOpportunity",
        "opportunity",
        {"input": {"customerId": customer_id, "name": "Looms"}},
    )
    await when_known(
        admin,
        """mutation($input: OpenTicketInput!) { openTicket(input: $input) { ticket { id } } }""",
        "openTicket",
        "ticket",
        {"input": {"customerId": customer_id, "title": "Invoice missing"}},
    )
    data = (await admin.execute(EVERY_SUBGRAPH, {"id": customer_id})).ok()
    customer = data["customer"]
    assert customer["name"] == "Peer Gateway Textiles"  # customer
    assert customer["lastInteractionAt"] is not None  # engagement (an _entities fetch)
    assert customer["interactions"]["edges"] == [
        {"node": {"kind": "PHONE_CALL", "content": "hello"}}
    ]
    assert customer["opportunities"]["edges"] == [{"node": {"name": "Looms"}}]  # quoting
    assert customer["tickets"]["edges"] == [{"node": {"title": "Invoice missing"}}]  # service desk
    assert "health" in customer  # insights (null until its read model has the customer)

    # Another tenant's caller gets nothing from any subgraph: the token reached each of them.
    stranger = client(live_stack, new_tenant(), "admin", "admin-1")
    assert (await stranger.execute(EVERY_SUBGRAPH, {"id": customer_id})).ok()["customer"] is None


async def test_subgraph_errors_keep_their_code(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, "sales_rep", "rep-7")
    # A root mutation's bad input: the code and the offending field, nothing created.
    bad = await rep.execute(
        """mutation($input: CreateCustomerInput!) {
             createCustomer(input: $input) { customer { id } } }""",
        {"input": {"name": "   "}},
    )
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"].get("field") == "input.name"
    listing = (await rep.execute("{ customers(first: 5) { totalCount } }")).ok()
    assert listing["customers"]["totalCount"] == 0

    # A role that may not write: FORBIDDEN from the subgraph, through the gateway.
    analyst = client(live_stack, tenant, "analyst", "analyst-7")
    refused = await analyst.execute(
        """mutation($input: CreateCustomerInput!) {
             createCustomer(input: $input) { customer { id } } }""",
        {"input": {"name": "Not Allowed Co"}},
    )
    assert refused.error_codes() == ["FORBIDDEN"]

    # An error inside an entity fetch (engagement's `_entities`): code kept, path at the field.
    created = (
        await rep.execute(
            """mutation($input: CreateCustomerInput!) {
                 createCustomer(input: $input) { customer { id } } }""",
            {"input": {"name": "Entity Error Mills"}},
        )
    ).ok()
    customer_id = created["createCustomer"]["customer"]["id"]
    response = await rep.execute(
        "query($id: ID!) { customer(id: $id) { id interactions(first: -1) { totalCount } } }",
        {"id": customer_id},
    )
    assert response.status == 200
    assert response.error_codes() == ["BAD_USER_INPUT"]
    assert response.errors[0].get("path", [])[:2] == ["customer", "interactions"]
    assert response.data == {"customer": None}  # the non-null field's null reaches the parent
