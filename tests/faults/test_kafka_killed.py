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
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import stack
from pymongo.asynchronous.collection import AsyncCollection

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
        # The customer service's outbox queue holds none of this tenant's events any more.
        pending = await mongo["crm_customer"]["outbox"].count_documents({"event.tenant_id": tenant})
        assert pending == 0
    finally:
        await mongo.close()
    print(
        f"\n[faults] {BURST} creates, broker killed and back, all delivered in "
        f"{time.monotonic() - started:.1f}s"
    )


# --- 1,000 mixed mutations through the gateway, every consumer effect against a ledger ---

MUTATIONS = 1000
KNOWN_CUSTOMERS = 20  # created before the burst so interactions can be logged for them
CONCURRENCY = 16
KILL_AFTER, RESTART_AFTER = 250, 600  # mutations completed when the broker dies / comes back
# With two or more replicas per service: mutations completed when replica 1 of every service
# is SIGKILLed (a crashed pod: no shutdown, its outbox entries and consumer partitions left
# behind) and when it is started again.
REPLICA_KILL_AFTER, REPLICA_RESTART_AFTER = 150, 450
LOG_INTERACTION = """mutation($input: LogInteractionInput!) {
  logInteraction(input: $input) { interaction { id } } }"""
CREATE_OPPORTUNITY = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } } }"""
CUSTOMER_CREATED = "crm.customer.created"
INTERACTION_LOGGED = "crm.engagement.interaction_logged"
OPPORTUNITY_CREATED = "crm.quoting.opportunity_created"


@dataclass
class Ledger:
    """What the API confirmed: the id of every record each mutation created."""

    customers: set[str] = field(default_factory=set)
    interactions: set[str] = field(default_factory=set)
    opportunities: set[str] = field(default_factory=set)
    # Mutations whose answer never came (their replica was killed under them): they may or may
    # not have landed. After the burst the owning service's database decides (`reconcile`).
    uncertain: list[tuple[str, str]] = field(default_factory=list)  # (kind, unique label)

    @property
    def completed(self) -> int:
        return (
            len(self.customers)
            + len(self.interactions)
            + len(self.opportunities)
            + len(self.uncertain)
        )

    def expected_events(self) -> Counter[str]:
        return Counter(
            {
                CUSTOMER_CREATED: len(self.customers),
                INTERACTION_LOGGED: len(self.interactions),
                OPPORTUNITY_CREATED: len(self.opportunities),
            }
        )


async def _ids(collection: AsyncCollection[dict[str, Any]], tenant: str) -> list[str]:
    return [doc["_id"] async for doc in collection.find({"tenant_id": tenant}, {"_id": 1})]


async def _types(
    collection: AsyncCollection[dict[str, Any]], query: dict[str, Any]
) -> Counter[str]:
    return Counter([doc["type"] async for doc in collection.find(query, {"type": 1})])


async def _until_caught_up(missing: Callable[[], Awaitable[int]], stall_s: float = 90) -> None:
    """Poll until nothing is missing; fail only when the consumers stop making progress.

    On a machine shared with other test stacks catching up can take minutes; a fixed deadline
    would fail for slowness, while a stall (no new effect for ``stall_s``) means a lost event.
    """
    best, progressed_at = await missing(), time.monotonic()
    while best > 0:
        await asyncio.sleep(2.0)
        now_missing = await missing()
        if now_missing < best:
            best, progressed_at = now_missing, time.monotonic()
        elif time.monotonic() - progressed_at > stall_s:
            raise AssertionError(f"{best} events still unapplied, no progress for {stall_s}s")


# What the gateway answers for a mutation whose subgraph replica vanished under it.
SUBGRAPH_GONE = {"SUBGRAPH_UNAVAILABLE", "SUBGRAPH_ERROR", "INTERNAL_SERVER_ERROR"}


async def _reconcile(ledger: Ledger, mongo: Any, tenant: str) -> int:
    """Add to the ledger the cut-off mutations that landed, as the owning service stored them.

    A client whose request died with its replica, or was answered with a timeout while the
    subgraph was still working on it, cannot know whether the write happened; the owning
    service's database is the truth, once nothing is in flight any more (the stored records
    stop changing). From then on the drill demands exactly one downstream effect per stored
    record, as for the confirmed ones.
    """
    sources = {
        "customer": (mongo["crm_customer"]["customers"], "name", ledger.customers),
        "interaction": (mongo["crm_engagement"]["interactions"], "content", ledger.interactions),
        "opportunity": (mongo["crm_quoting"]["opportunities"], "name", ledger.opportunities),
    }
    if ledger.uncertain:
        await _until_settled(
            [(collection, {"tenant_id": tenant}) for collection, _, _ in sources.values()]
        )
    landed = 0
    for kind, label in ledger.uncertain:
        collection, label_field, ids = sources[kind]
        found = [
            doc["_id"]
            async for doc in collection.find({"tenant_id": tenant, label_field: label}, {"_id": 1})
        ]
        assert len(found) <= 1, f"{kind} {label!r} stored {len(found)} times"
        ids.update(found)
        landed += len(found)
    return landed


async def _until_settled(
    counted: list[tuple[AsyncCollection[dict[str, Any]], dict[str, Any]]],
    quiet_polls: int = 5,
    interval_s: float = 2.0,
) -> None:
    """Wait until the counts stay the same for ``quiet_polls`` polls in a row (no write that a
    client gave up on is still landing)."""
    last: list[int] = []
    unchanged = 0
    while unchanged < quiet_polls:
        counts = [await c.count_documents(query) for c, query in counted]
        unchanged = unchanged + 1 if counts == last else 0
        last = counts
        await asyncio.sleep(interval_s)


async def _until(point: asyncio.Event, burst: asyncio.Future[Any]) -> None:
    """Wait for ``point``; a mutation that failed in the burst fails the test right away."""
    reached = asyncio.create_task(point.wait())
    await asyncio.wait({reached, burst}, return_when=asyncio.FIRST_COMPLETED)
    reached.cancel()
    if burst.done():
        burst.result()


@pytest.mark.timeout(1800)  # minutes on a quiet machine; far more while others share it
async def test_kafka_killed_during_1000_mutations_every_consumer_effect_applied_once(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    gateway = GraphQLClient(
        live_stack.gateway_url, token_for(live_stack.var_dir, tenant, ["admin"])
    )
    ledger = Ledger()
    mongo = create_client(live_stack.mongodb_uri, "faults-test")
    db = {
        name: mongo[f"crm_{name}"] for name in ("engagement", "service_desk", "insights", "quoting")
    }

    replicas_killed = asyncio.Event()
    cut_off: Counter[str] = Counter()  # why the cut-off mutations got no answer

    async def run(kind: str, label: str, query: str, variables: dict[str, Any]) -> Any:
        """The mutation's data; None when its replica died under it (then it is 'uncertain')."""
        try:
            response = await gateway.execute(query, variables)
        except httpx.TransportError as exc:
            if not replicas_killed.is_set():
                raise
            ledger.uncertain.append((kind, label))
            cut_off[type(exc).__name__] += 1
            return None
        codes = response.error_codes()
        if replicas_killed.is_set() and codes and set(codes) <= SUBGRAPH_GONE:
            ledger.uncertain.append((kind, label))
            cut_off[response.errors[0].get("message", "?")[:80]] += 1
            return None
        return response.ok()

    async def create_customer(n: int, prefix: str = "Ledger Co") -> None:
        name = f"{prefix} {n}"
        data = await run("customer", name, CREATE, {"input": {"name": name}})
        if data is not None:
            ledger.customers.add(data["createCustomer"]["customer"]["id"])

    # A few customers engagement already knows, so interactions can be logged in the burst.
    await asyncio.gather(*(create_customer(n, "Known Co") for n in range(KNOWN_CUSTOMERS)))
    known = sorted(ledger.customers)

    async def engagement_and_quoting_know_them() -> bool:
        for service in ("engagement", "quoting"):
            refs = db[service]["customer_refs"]
            if await refs.count_documents({"tenant_id": tenant}) != KNOWN_CUSTOMERS:
                return False
        return True

    await eventually(engagement_and_quoting_know_them, timeout_s=120, interval_s=0.5)

    async def log_interaction(n: int) -> None:
        payload = {
            "customerId": known[n % KNOWN_CUSTOMERS],
            "kind": "PHONE_CALL",
            "content": f"#{n}",
        }
        data = await run("interaction", f"#{n}", LOG_INTERACTION, {"input": payload})
        if data is not None:
            ledger.interactions.add(data["logInteraction"]["interaction"]["id"])

    async def create_opportunity(n: int) -> None:
        payload = {"customerId": known[n % KNOWN_CUSTOMERS], "name": f"Deal {n}"}
        data = await run("opportunity", f"Deal {n}", CREATE_OPPORTUNITY, {"input": payload})
        if data is not None:
            ledger.opportunities.add(data["createOpportunity"]["opportunity"]["id"])

    # 60 % customers, 20 % interactions, 20 % opportunities, interleaved.
    kinds = [create_customer, create_customer, create_customer, log_interaction, create_opportunity]
    jobs: asyncio.Queue[int] = asyncio.Queue()
    for n in range(MUTATIONS):
        jobs.put_nowait(n)
    baseline = ledger.completed

    kill_point, restart_point = asyncio.Event(), asyncio.Event()
    replica_kill_point, replica_restart_point = asyncio.Event(), asyncio.Event()

    async def worker() -> None:
        while not jobs.empty():
            n = jobs.get_nowait()
            await kinds[n % len(kinds)](n)
            done = ledger.completed - baseline
            for point, after in [
                (replica_kill_point, REPLICA_KILL_AFTER),
                (kill_point, KILL_AFTER),
                (replica_restart_point, REPLICA_RESTART_AFTER),
                (restart_point, RESTART_AFTER),
            ]:
                if done >= after:
                    point.set()

    async def kill_and_restart_replicas() -> None:
        """SIGKILL replica 1 of every service mid-burst, start them again later."""
        await replica_kill_point.wait()
        replicas_killed.set()
        for service in stack.SERVICES:
            stack.kill_replica(live_stack, service, 1)
        print(
            f"\n[faults] replica 1 of every service killed after "
            f"{ledger.completed - baseline} mutations",
            flush=True,
        )
        await replica_restart_point.wait()
        for service in stack.SERVICES:
            await asyncio.to_thread(stack.restart_replica, live_stack, service, 1, 180)
        print(f"[faults] replicas back after {ledger.completed - baseline} mutations", flush=True)

    kafka_pid = int((live_stack.run_dir / "kafka.pid").read_text())
    started = time.monotonic()
    burst = asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    replica_drill = (
        asyncio.create_task(kill_and_restart_replicas()) if live_stack.replicas > 1 else None
    )
    try:
        await _until(kill_point, burst)
        os.kill(kafka_pid, signal.SIGKILL)  # mid-burst, no clean shutdown
        killed_at = ledger.completed - baseline
        print(f"\n[faults] broker killed after {killed_at} mutations", flush=True)
        await _until(restart_point, burst)
        # Restarted while the burst goes on; writes never wait for the broker (outbox).
        await asyncio.to_thread(stack.infra, live_stack, "up")
        restarted_at = ledger.completed - baseline
        print(f"[faults] broker back after {restarted_at} mutations", flush=True)
        await burst
        if replica_drill is not None:
            await replica_drill
    finally:
        burst.cancel()
        if replica_drill is not None:
            replica_drill.cancel()
    burst_s = time.monotonic() - started
    print(f"[faults] burst done in {burst_s:.1f}s; waiting for the consumers", flush=True)
    assert ledger.completed - baseline == MUTATIONS

    try:
        ledgers = {
            group: db[group.replace("-", "_")]["processed_events"]
            for group in ("engagement", "service-desk", "insights")
        }

        async def still_missing() -> int:
            """Events not yet applied, summed over the consumer groups (0: all caught up)."""
            expected = ledger.expected_events()
            engagement = await _types(ledgers["engagement"], {"tenant_id": tenant})
            service_desk = await _types(ledgers["service-desk"], {"tenant_id": tenant})
            insights = await _types(ledgers["insights"], {"tenant_id": tenant})
            return (
                sum(max(0, n - engagement[t]) for t, n in expected.items())
                + max(0, len(ledger.customers) - service_desk[CUSTOMER_CREATED])
                + sum(max(0, n - insights[t]) for t, n in expected.items())
            )

        # Writes a client gave up on may still be queued behind the consumers' catch-up on
        # their service's one connection: reconcile once that backlog is gone, then wait for
        # the effects of what the reconciliation added.
        await _until_caught_up(still_missing)
        landed = await _reconcile(ledger, mongo, tenant)
        print(
            f"[faults] {len(ledger.uncertain)} mutations cut off by the replica kill; "
            f"{landed} of them had landed; answers: {dict(cut_off)}",
            flush=True,
        )
        await _until_caught_up(still_missing)
        delivered_s = time.monotonic() - started
        expected = ledger.expected_events()
        customers = ledger.customers

        # Each consumer group's idempotency ledger: one entry per event, none dead-lettered.
        for group, consumed in {
            "engagement": expected,
            "service-desk": Counter({CUSTOMER_CREATED: len(customers)}),
            "insights": expected,
        }.items():
            applied = await _types(ledgers[group], {"tenant_id": tenant, "outcome": "applied"})
            assert {t: applied[t] for t in consumed} == dict(consumed), group
            failed = await ledgers[group].count_documents(
                {"tenant_id": tenant, "outcome": {"$ne": "applied"}}
            )
            assert failed == 0, f"{group}: {failed} events dead-lettered"

        # The effects themselves: exactly the records the API confirmed, no more, no fewer.
        assert sorted(await _ids(db["engagement"]["customer_refs"], tenant)) == sorted(customers)
        assert sorted(await _ids(db["service_desk"]["customer_refs"], tenant)) == sorted(customers)
        assert sorted(await _ids(db["insights"]["customers"], tenant)) == sorted(customers)
        assert sorted(await _ids(db["insights"]["interactions"], tenant)) == sorted(
            ledger.interactions
        )
        assert sorted(await _ids(db["insights"]["opportunities"], tenant)) == sorted(
            ledger.opportunities
        )
        timeline = await _types(db["engagement"]["timeline"], {"tenant_id": tenant})
        assert {t: timeline[t] for t in expected} == dict(expected)

        async def report_counts_every_customer() -> bool:
            # Insights answers reports slowly right after a burst (it is still re-scoring the
            # customers the burst touched): a timed-out request, or the gateway's circuit for
            # insights open after such timeouts, is "not yet"; any other error fails.
            try:
                response = await gateway.execute("query { customerGrowth { total } }")
            except httpx.TimeoutException:
                return False
            if response.error_codes() == ["SUBGRAPH_UNAVAILABLE"]:
                return False
            return bool(response.ok()["customerGrowth"]["total"] == len(customers))

        await eventually(report_counts_every_customer, timeout_s=180, interval_s=2.0)

        # Every source service's outbox queue was drained: no event is still waiting.
        for database in ["crm_customer", "crm_engagement", "crm_quoting"]:
            pending = await mongo[database]["outbox"].count_documents({"event.tenant_id": tenant})
            assert pending == 0, f"{database}: {pending} events still in the outbox"
    finally:
        await mongo.close()
    print(
        f"\n[faults] {MUTATIONS} mutations ({dict(expected)}) in {burst_s:.1f}s; broker killed "
        f"after {killed_at}, restarted after {restarted_at}; every effect applied exactly once, "
        f"all consumers caught up {delivered_s:.1f}s after the burst started"
    )
