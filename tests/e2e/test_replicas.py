"""Two replicas per service (E2E_REPLICAS, default 2): the gateway balances over them.

Kill replica 1 of the customer service (SIGKILL, as a crashed pod): queries through the
gateway keep answering (connection failures move on to replica 0 and eject replica 1);
restart it: the gateway's readiness probe puts it back and it serves again.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import stack

from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

CUSTOMER = next(c for c in stack.SERVICES if c.name == "customer")
CREATE = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } } }"""
READ = "query($id: ID!) { customer(id: $id) { id name } }"
_GRAPHQL_REQUESTS = re.compile(
    r'^crm_http_requests_total\{[^}]*path="/graphql"[^}]*\} ([0-9.e+]+)$', re.MULTILINE
)


async def _graphql_requests(config: stack.StackConfig, replica: int) -> float:
    """/graphql requests one replica has served (its own /metrics)."""
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{config.service_url(CUSTOMER, replica)}/metrics")
    return sum(float(v) for v in _GRAPHQL_REQUESTS.findall(response.text))


async def test_gateway_survives_a_killed_replica_and_uses_it_again(
    live_stack: stack.StackConfig,
) -> None:
    if live_stack.replicas < 2:
        pytest.skip("needs E2E_REPLICAS >= 2")
    gateway = GraphQLClient(
        live_stack.gateway_url, token_for(live_stack.var_dir, new_tenant(), ["admin"])
    )
    created = (await gateway.execute(CREATE, {"input": {"name": "Replica Co"}})).ok()
    customer_id = created["createCustomer"]["customer"]["id"]

    async def answers(n: int) -> bool:
        # n different operations: identical concurrent queries would share one execution
        # (the gateway's request deduplication) and reach one replica only.
        results = await asyncio.gather(
            *(
                gateway.execute(READ.replace("query(", f"query Read{i}("), {"id": customer_id})
                for i in range(n)
            )
        )
        return all(
            r.status == 200 and not r.errors and r.data["customer"]["id"] == customer_id
            for r in results
        )

    # Both replicas serve the gateway's requests.
    before = [await _graphql_requests(live_stack, r) for r in (0, 1)]
    assert await answers(10)
    after = [await _graphql_requests(live_stack, r) for r in (0, 1)]
    assert after[0] > before[0] and after[1] > before[1]

    killed = await asyncio.to_thread(stack.kill_replica, live_stack, CUSTOMER, 1)
    assert live_stack.replica_pid(CUSTOMER, 1) is None and killed
    try:
        # Queries keep answering (polled: no timing is asserted), writes too.
        await eventually(lambda: answers(10), timeout_s=60, interval_s=0.5)
        for _ in range(3):
            assert await answers(10)

        async def write() -> bool:
            response = await gateway.execute(CREATE, {"input": {"name": "While One Is Down"}})
            return response.status == 200 and not response.errors

        await eventually(write, timeout_s=60, interval_s=0.5)
    finally:
        await asyncio.to_thread(stack.restart_replica, live_stack, CUSTOMER, 1)

    # The gateway probes it back into rotation, and it serves again.
    baseline = await _graphql_requests(live_stack, 1)

    async def used_again() -> bool:
        await answers(10)
        return await _graphql_requests(live_stack, 1) > baseline

    await eventually(used_again, timeout_s=90, interval_s=0.5)
    assert await answers(10)
