"""A partner's subgraph added by configuration extends ``Customer`` (issue 19, item 5).

A partner runs a small subgraph of their own (tests/support/partner_subgraph.py: strawberry,
``Customer @key(fields: "id")`` with ``partnerTier`` and ``partnerSawCaller``). Adding it to
the gateway takes configuration only: one more ``name=url`` pair in ``GATEWAY_SUBGRAPHS``
(crm_gateway.settings); the gateway composes it with the suite's five subgraphs at start-up.
A second gateway of the stack is started so configured, and one query reads a customer's
fields from the customer subgraph and the partner's together, with the caller's token
forwarded to the partner as to every subgraph.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import stack
from peers import wait_http

from tests.e2e.client import GraphQLClient, new_tenant, token_for
from tests.support.partner_subgraph import tier_of

pytestmark = [pytest.mark.e2e]

PARTNER_OFFSET, GATEWAY_OFFSET = 7, 8  # inside the slot's port range, unused by the stack
PARTNER = Path(__file__).resolve().parents[1] / "support" / "partner_subgraph.py"


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def partner_gateway(live_stack: stack.StackConfig) -> Iterator[str]:
    """The partner subgraph, and a gateway whose configuration lists it after ours."""
    log_dir = live_stack.log_dir
    partner_port = live_stack.base_port + PARTNER_OFFSET
    gateway_port = live_stack.base_port + GATEWAY_OFFSET
    partner = subprocess.Popen(
        [sys.executable, str(PARTNER), str(partner_port)],
        stdout=(log_dir / "partner-subgraph.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    processes = [partner]
    try:
        wait_http(
            f"http://127.0.0.1:{partner_port}/graphql?query=%7B__typename%7D",
            partner,
            120,
            "partner subgraph",
        )
        env = live_stack.component_env(stack.GATEWAY)
        env["GATEWAY_SUBGRAPHS"] += f",partner=http://127.0.0.1:{partner_port}/graphql"
        env["GATEWAY_PORT"] = str(gateway_port)
        gateway = subprocess.Popen(
            [sys.executable, "-m", stack.GATEWAY.module],
            env=env,
            stdout=(log_dir / "partner-gateway.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        processes.append(gateway)
        wait_http(f"http://127.0.0.1:{gateway_port}/readyz", gateway, 120, "partner gateway")
        yield f"http://127.0.0.1:{gateway_port}/graphql"
    finally:
        for process in reversed(processes):
            _stop(process)


async def test_partner_subgraph_extends_customer_by_configuration(
    live_stack: stack.StackConfig, partner_gateway: str
) -> None:
    tenant = new_tenant()
    token = token_for(live_stack.var_dir, tenant, ["admin"], user_id="admin-p")
    client = GraphQLClient(partner_gateway, token)
    created = (
        await client.execute(
            """mutation($input: CreateCustomerInput!) {
                 createCustomer(input: $input) { customer { id } } }""",
            {"input": {"name": "Partner Programme Ceramics"}},
        )
    ).ok()
    customer_id = created["createCustomer"]["customer"]["id"]
    data = (
        await client.execute(
            """query($id: ID!) {
                 partnerProgramme
                 customer(id: $id) { id name partnerTier partnerSawCaller } }""",
            {"id": customer_id},
        )
    ).ok()
    assert data["partnerProgramme"] == "Partner Loyalty"
    assert data["customer"] == {
        "id": customer_id,
        "name": "Partner Programme Ceramics",
        "partnerTier": tier_of(customer_id),
        "partnerSawCaller": True,
    }
    # The suite's own gateway, configured without the partner, does not know the field.
    ours = GraphQLClient(live_stack.gateway_url, token)
    unknown = await ours.execute(
        "query($id: ID!) { customer(id: $id) { partnerTier } }", {"id": customer_id}
    )
    assert unknown.errors and unknown.data is None
