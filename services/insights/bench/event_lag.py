"""Event lag benchmark: committed mutation in another service → insights read model.

Starts its own copy of the suite (FerretDB, Kafka, five services, gateway) on the ports of one
slot (``BENCH_SLOT``, default 9: gateway 4190, Mongo 27207, Kafka 9282), then creates customers
through the customer subgraph at a fixed rate (open loop) for a bounded time, and measures for
each one the time from the mutation's response (the write is committed) until insights' own
read model holds the customer (polled every ``--poll-ms``). Prints p50/p95/p99/max and the
achieved write rate; exits non-zero if the p99 exceeds ``--p99-budget-ms``.

    uv run python services/insights/bench/event_lag.py --rate 200 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))

import stack  # noqa: E402

from crm_common.auth import issue_dev_token, load_or_create_dev_secret  # noqa: E402
from crm_common.mongo import create_client  # noqa: E402
from crm_insights.adapters.replay import partitions_of  # noqa: E402

CREATE = (
    "mutation C($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }"
)


@dataclass
class Results:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    committed_at: dict[str, float] = field(default_factory=dict)
    arrived_at: dict[str, float] = field(default_factory=dict)
    lags_ms: list[float] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[rank]


def config_for(slot: int) -> stack.StackConfig:
    return stack.StackConfig.for_slot(
        slot,
        REPO / "var" / f"bench-insights-{slot}",
        {"LOG_LEVEL": "WARNING", "OUTBOX_POLL_INTERVAL_S": "0.2"},
    )


async def create_customers(
    url: str, token: str, rate: float, duration_s: float, results: Results, max_in_flight: int
) -> float:
    """Open loop: one request every 1/rate s, whatever the answers do; returns seconds taken."""
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    headers = {"Authorization": f"Bearer {token}"}
    gate = asyncio.Semaphore(max_in_flight)
    tasks: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as http:

        async def one(n: int) -> None:
            async with gate:
                name = f"Bench Co {n:06d} {uuid.uuid4().hex[:8]}"
                try:
                    response = await http.post(
                        url, json={"query": CREATE, "variables": {"input": {"name": name}}}
                    )
                    body = response.json()
                    customer_id = body["data"]["createCustomer"]["customer"]["id"]
                except Exception as exc:
                    results.failed += 1
                    if len(results.errors) < 5:
                        results.errors.append(repr(exc)[:300])
                    return
                results.committed_at[customer_id] = time.time()

        started = time.perf_counter()
        total = int(rate * duration_s)
        for n in range(total):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
            results.sent += 1
        await asyncio.gather(*tasks)
        return time.perf_counter() - started


async def watch_read_model(
    config: stack.StackConfig, tenant: str, results: Results, poll_s: float, done: asyncio.Event
) -> None:
    """Polls insights' ``customers`` read model for the committed customers not seen yet."""
    client = create_client(config.mongodb_uri, "insights-bench")
    customers = client["crm_insights"]["customers"]
    seen: set[str] = set()
    try:
        while True:
            pending = [cid for cid in results.committed_at if cid not in seen]
            if pending:
                cursor = customers.find({"tenant_id": tenant, "_id": {"$in": pending}}, {"_id": 1})
                now = time.time()
                async for doc in cursor:
                    seen.add(doc["_id"])
                    results.arrived_at[doc["_id"]] = now
                    results.lags_ms.append((now - results.committed_at[doc["_id"]]) * 1000)
            elif done.is_set():
                return
            await asyncio.sleep(poll_s)
    finally:
        await client.close()


async def published_at(config: stack.StackConfig, tenant: str) -> dict[str, float]:
    """When each of the tenant's ``customer.created`` events reached Kafka (record timestamp:
    the outbox relay's send time), to split the lag into relay and insights parts."""
    topic = "crm.customer.v1"
    partitions = await partitions_of(config.kafka_bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, float] = {}
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    headers = dict(record.headers or [])
                    if headers.get("ce_tenantid") == tenant.encode() and record.key:
                        found.setdefault(record.key.decode(), record.timestamp / 1000)
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return found


def _summary(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1) if values else None,
    }


async def measure(config: stack.StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    secret = load_or_create_dev_secret(config.var_dir / "dev-jwt-secret")
    token = issue_dev_token(secret, tenant=tenant, roles=["sales_rep"], user_id="bench-rep")
    url = f"{config.service_url(stack.SERVICES[0])}/graphql"  # the customer subgraph

    warmup = Results()
    await create_customers(url, token, 20, 1, warmup, 20)  # connections, caches, consumer
    await asyncio.sleep(2)

    results = Results()
    done = asyncio.Event()
    watcher = asyncio.create_task(
        watch_read_model(config, tenant, results, args.poll_ms / 1000, done)
    )
    elapsed = await create_customers(
        url, token, args.rate, args.duration, results, args.max_in_flight
    )
    done.set()
    try:
        await asyncio.wait_for(watcher, timeout=30)
    except TimeoutError:
        watcher.cancel()
    committed = len(results.committed_at)
    lags = results.lags_ms
    sent_to_kafka = await published_at(config, tenant)
    relay_ms = [
        (sent_to_kafka[cid] - results.committed_at[cid]) * 1000
        for cid in results.arrived_at
        if cid in sent_to_kafka
    ]
    consume_ms = [
        (at - sent_to_kafka[cid]) * 1000
        for cid, at in results.arrived_at.items()
        if cid in sent_to_kafka
    ]
    return {
        "target_rate_per_s": args.rate,
        "duration_s": round(elapsed, 2),
        "sent": results.sent,
        "committed": committed,
        "failed": results.failed,
        "achieved_rate_per_s": round(committed / elapsed, 1) if elapsed else 0,
        "arrived_in_read_model": len(lags),
        "lag_ms": _summary(lags),
        # The two parts: commit → on Kafka (the customer service's outbox relay), and
        # on Kafka → in insights' read model (consumer + projection + poll interval).
        "commit_to_kafka_ms": _summary(relay_ms),
        "kafka_to_read_model_ms": _summary(consume_ms),
        "published_to_kafka": len(sent_to_kafka),
        "poll_interval_ms": args.poll_ms,
        "errors": results.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (≤ 30)")
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--max-in-flight", type=int, default=200)
    parser.add_argument("--p99-budget-ms", type=float, default=250.0)
    parser.add_argument("--slot", type=int, default=int(os.environ.get("BENCH_SLOT", "9")))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.duration = min(args.duration, 30.0)

    config = config_for(args.slot)
    stack.infra(config, "down")
    shutil.rmtree(config.var_dir, ignore_errors=True)
    config.var_dir.mkdir(parents=True)
    stack.infra(config, "up")
    try:
        stack.ensure_topics(config)
        stack.up(config, with_infra=False)
        figures = asyncio.run(measure(config, args))
    finally:
        stack.down(config)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if figures["lag_ms"]["p99"] > args.p99_budget_ms:
        print(f"p99 lag above the {args.p99_budget_ms} ms budget", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
