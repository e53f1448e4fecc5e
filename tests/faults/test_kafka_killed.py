"""Kafka is SIGKILLed in the middle of a burst of writes, then restarted.

Nothing may be lost and nothing applied twice: every customer created during the burst
reaches engagement's local copy exactly once, and its `crm.customer.created` event is
recorded once in engagement's processed-events ledger. Run with `make test-faults` (it
restarts the broker of the e2e stack, so it stays out of `make test`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import stack

from crm_common.mongo import create_client
from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

BURST = 120
CREATE = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } }
}"""


async def test_kafka_killed_mid_burst_loses_nothing_and_applies_nothing_twice(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    client = GraphQLClient(
        f"{live_stack.service_url(stack.SERVICES[0])}/graphql",
        token_for(live_stack.var_dir, tenant, ["admin"]),
    )
    kafka_pid = int((live_stack.run_dir / "kafka.pid").read_text())
    created: list[str] = []

    async def create(n: int) -> None:
        response = await client.execute(CREATE, {"input": {"name": f"Fault Co {n}"}})
        created.append(response.ok()["createCustomer"]["customer"]["id"])

    started = time.monotonic()
    first_half = [asyncio.create_task(create(n)) for n in range(BURST // 2)]
    await asyncio.sleep(0.5)
    os.kill(kafka_pid, signal.SIGKILL)  # mid-burst, no clean shutdown
    await asyncio.gather(*first_half)
    # Writes go on while the broker is down: they only wait in the outbox.
    await asyncio.gather(*(create(n) for n in range(BURST // 2, BURST)))
    assert len(set(created)) == BURST
    await asyncio.to_thread(stack.infra, live_stack, "up")

    mongo = create_client(live_stack.mongodb_uri, "faults-test")
    try:
        refs = mongo["crm_engagement"]["customer_refs"]

        async def all_arrived() -> bool:
            return await refs.count_documents({"tenant_id": tenant}) == BURST

        await eventually(all_arrived, timeout_s=180, interval_s=1.0)
        ledger = mongo["crm_engagement"]["processed_events"]
        applied = await ledger.count_documents(
            {"tenant_id": tenant, "type": "crm.customer.created"}
        )
        assert applied == BURST  # one ledger entry per event: none applied twice
        pending = await mongo["crm_customer"]["customers"].count_documents(
            {"tenant_id": tenant, "_outbox_pending": {"$gt": 0}}
        )
        assert pending == 0
    finally:
        await mongo.close()
    print(
        f"\n[faults] {BURST} creates, broker killed and back, all delivered in "
        f"{time.monotonic() - started:.1f}s"
    )
