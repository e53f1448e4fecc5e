"""FerretDB (the database of the whole e2e stack) is SIGKILLed, then restarted by scripts/infra.sh.

The services are not restarted. The test asserts that:

- a mutation sent while the database is down gets a clean GraphQL error (no 5xx, no traceback,
  no driver internals) and stores nothing;
- every service answers again (its /readyz and a real mutation or query through the gateway)
  within a bounded time after the database is back, without a restart of its own;
- everything written before the kill is still there;
- events written after the recovery flow through Kafka to every consumer (engagement, service
  desk, insights).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import stack

from tests.e2e.client import GraphQLClient, GraphQLResponse, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

RECOVERY_BOUND_S = 60.0
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id number name } } }"""
LOG_INTERACTION = """mutation($input: LogInteractionInput!) {
  logInteraction(input: $input) { interaction { id } } }"""
CREATE_OPPORTUNITY = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } } }"""
OPEN_TICKET = """mutation($input: OpenTicketInput!) {
  openTicket(input: $input) { ticket { id } } }"""
CUSTOMER_360 = """query($id: ID!) {
  customer(id: $id) {
    id number name
    interactions(first: 10) { totalCount }
    opportunities(first: 10) { totalCount }
    tickets(first: 10) { totalCount }
  } }"""
CUSTOMERS_NAMED = """query($name: String!) {
  customers(first: 5, filter: {name: {eq: $name}}) { totalCount } }"""
GROWTH = "query { customerGrowth { total } }"
# What a driver or interpreter error would show: none of it may reach a client.
LEAKS = ("Traceback", "pymongo", "ServerSelection", "Connection refused", "127.0.0.1", 'File "')


def _ferretdb_pid(config: stack.StackConfig) -> int:
    return int((config.run_dir / "ferretdb.pid").read_text())


async def _ok_when(client: GraphQLClient, query: str, variables: dict[str, Any]) -> Any:
    """The data of ``query`` once it succeeds; NOT_FOUND means an event has not arrived yet."""

    async def attempt() -> Any:
        response = await client.execute(query, variables)
        if response.errors and response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        return response.ok()

    return await eventually(attempt, timeout_s=RECOVERY_BOUND_S, interval_s=0.5)


def _interaction(customer_id: str, content: str) -> dict[str, Any]:
    return {"input": {"customerId": customer_id, "kind": "EMAIL", "content": content}}


def _assert_clean_error(response: GraphQLResponse) -> None:
    assert response.status < 500, response.body
    assert response.errors, response.body
    assert (response.data or {}).get("createCustomer") is None
    # A code that tells the client to retry, not an opaque internal error.
    assert response.error_codes() == ["SERVICE_UNAVAILABLE"], response.body
    text = str(response.body)
    leaked = [marker for marker in LEAKS if marker in text]
    assert not leaked, f"internals leaked {leaked}: {text}"


async def test_database_killed_and_restarted_services_reconnect_without_restart(
    live_stack: stack.StackConfig,
) -> None:
    gateway = GraphQLClient(
        live_stack.gateway_url, token_for(live_stack.var_dir, new_tenant(), ["admin"])
    )
    before = (await gateway.execute(CREATE_CUSTOMER, {"input": {"name": "Before Kill Co"}})).ok()
    customer_a = before["createCustomer"]["customer"]
    a_id = customer_a["id"]
    # Every consumer has seen customer A (so nothing is in flight when the database dies).
    await _ok_when(gateway, LOG_INTERACTION, _interaction(a_id, "before"))
    await _ok_when(gateway, OPEN_TICKET, {"input": {"customerId": a_id, "title": "Before"}})
    await _ok_when(
        gateway,
        CREATE_OPPORTUNITY,
        {"input": {"customerId": a_id, "name": "Before", "expectedCloseDate": "2030-01-01"}},
    )

    async def growth_is(total: int) -> bool:
        response = await gateway.execute(GROWTH)
        return not response.errors and response.data["customerGrowth"]["total"] == total

    await eventually(lambda: growth_is(1), timeout_s=RECOVERY_BOUND_S)

    os.kill(_ferretdb_pid(live_stack), signal.SIGKILL)
    killed_at = time.monotonic()
    down = await gateway.execute(CREATE_CUSTOMER, {"input": {"name": "While Down Co"}})
    _assert_clean_error(down)
    print(f"\n[faults] while the database is down: HTTP {down.status}, {down.errors}")
    customer_service = next(c for c in stack.SERVICES if c.name == "customer")
    not_ready = await asyncio.to_thread(_readyz_status, live_stack, customer_service)
    assert not_ready == 503

    await asyncio.to_thread(stack.infra, live_stack, "up")  # the project's own launcher
    restarted_at = time.monotonic()
    for component in stack.SERVICES:  # the same processes: none was restarted
        await asyncio.to_thread(
            stack.wait_ready,
            f"{live_stack.service_url(component)}/readyz",
            RECOVERY_BOUND_S,
            component.name,
            live_stack,
        )

    async def create_b() -> Any:
        response = await gateway.execute(CREATE_CUSTOMER, {"input": {"name": "After Restart Co"}})
        return response.ok() if not response.errors else None

    after = await eventually(create_b, timeout_s=RECOVERY_BOUND_S, interval_s=0.5)
    b_id = after["createCustomer"]["customer"]["id"]
    first_write_s = time.monotonic() - restarted_at

    # Each service takes writes again; B's `customer.created` reaches engagement, the
    # service desk (they refuse an unknown customer with NOT_FOUND) and insights.
    await _ok_when(gateway, LOG_INTERACTION, _interaction(a_id, "after"))
    await _ok_when(gateway, LOG_INTERACTION, _interaction(b_id, "after"))
    await _ok_when(gateway, OPEN_TICKET, {"input": {"customerId": b_id, "title": "After"}})
    await _ok_when(
        gateway,
        CREATE_OPPORTUNITY,
        {"input": {"customerId": b_id, "name": "After", "expectedCloseDate": "2030-01-01"}},
    )
    await eventually(lambda: growth_is(2), timeout_s=RECOVERY_BOUND_S, interval_s=0.5)

    # Nothing written before the kill is lost; the refused write left nothing behind.
    whole_a = (await gateway.execute(CUSTOMER_360, {"id": a_id})).ok()["customer"]
    assert whole_a["number"] == customer_a["number"]
    assert whole_a["name"] == "Before Kill Co"
    assert whole_a["interactions"]["totalCount"] == 2
    assert whole_a["opportunities"]["totalCount"] == 1
    assert whole_a["tickets"]["totalCount"] == 1
    refused = (await gateway.execute(CUSTOMERS_NAMED, {"name": "While Down Co"})).ok()
    assert refused["customers"]["totalCount"] == 0
    print(
        f"\n[faults] database down {restarted_at - killed_at:.1f}s; first write through the "
        f"gateway {first_write_s:.1f}s after the restart; all services whole again"
    )


def _readyz_status(config: stack.StackConfig, component: stack.Component) -> int:
    try:
        with urllib.request.urlopen(
            f"{config.service_url(component)}/readyz", timeout=10
        ) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
