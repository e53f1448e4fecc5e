"""Live subscription benchmark: event → subscriber latency with many open subscriptions.

Starts its own copy of the suite on one slot (``BENCH_SLOT``, default 9; one replica per
service), opens ``--subscriptions`` graphql-transport-ws connections (one subscription each:
``ticketChanged`` spread over ``--tickets`` tickets) to the ONE service-desk replica, then
publishes ``--events`` ticket events straight to Kafka at ``--rate`` per second (each for one
ticket, so each reaches subscriptions/tickets subscribers, who each get the ticket re-read).
Latency = from just before the event is produced to the subscriber receiving its ``next``
message (Kafka produce + LiveFeed fetch + dispatch + re-read + WebSocket send + client read).
Memory: the service-desk process's RSS before the subscriptions and with all of them open.

    uv run python services/service-desk/bench/live_latency.py --subscriptions 1000
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from aiokafka import AIOKafkaProducer

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))

import stack  # noqa: E402

from crm_common.auth import issue_dev_token, load_or_create_dev_secret  # noqa: E402
from crm_common.events.contracts.servicedesk import TicketStatusChanged  # noqa: E402
from crm_common.events.envelope import CloudEvent  # noqa: E402

SERVICE_DESK = next(c for c in stack.SERVICES if c.name == "service-desk")
TOPIC = "crm.servicedesk.v1"
SUBSCRIPTION = "subscription($id: ID!) { ticketChanged(id: $id) { id status } }"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def gql(url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    return body


async def make_tickets(
    config: stack.StackConfig, rep_token: str, token: str, count: int
) -> list[str]:
    created = await gql(
        config.gateway_url,
        rep_token,
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }",
        {"i": {"name": f"Bench Live {uuid.uuid4().hex[:6]}"}},
    )
    customer = created["data"]["createCustomer"]["customer"]["id"]
    opened = "mutation($i: OpenTicketInput!) { openTicket(input: $i) { ticket { id } } }"
    tickets: list[str] = []
    deadline = time.monotonic() + 60
    while len(tickets) < count:
        answer = await gql(
            config.gateway_url, token, opened, {"i": {"customerId": customer, "title": "bench"}}
        )
        if answer.get("errors"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot open tickets: {answer['errors']}")
            await asyncio.sleep(0.2)  # the service desk learns the customer from Kafka
            continue
        tickets.append(answer["data"]["openTicket"]["ticket"]["id"])
    return tickets


class Subscriber:
    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        self.received: list[float] = []
        self.errors: list[Any] = []


async def run_subscriber(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    subscriber: Subscriber,
    ready: asyncio.Semaphore,
    stop: asyncio.Event,
) -> None:
    async with session.ws_connect(
        url, protocols=["graphql-transport-ws"], headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        await ws.send_json({"type": "connection_init", "payload": {}})
        await ws.receive_json()
        await ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": {"id": subscriber.ticket_id}},
            }
        )
        ready.release()
        reader = asyncio.create_task(_read(ws, subscriber))
        await stop.wait()
        reader.cancel()
        await ws.close()


async def _read(ws: aiohttp.ClientWebSocketResponse, subscriber: Subscriber) -> None:
    async for message in ws:
        now = time.perf_counter()
        data = json.loads(message.data)
        if data.get("type") == "next":
            if data["payload"].get("errors"):
                subscriber.errors.append(data["payload"]["errors"])
            else:
                subscriber.received.append(now)
        elif data.get("type") == "ping":
            await ws.send_json({"type": "pong"})


async def listeners(base: str) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{base}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("crm_live_listeners{")
    )


async def bench(config: stack.StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    secret = load_or_create_dev_secret(config.var_dir / "dev-jwt-secret")
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    token = issue_dev_token(secret, tenant=tenant, roles=["service_agent"], user_id="agent")
    rep = issue_dev_token(secret, tenant=tenant, roles=["sales_rep"], user_id="rep")
    tickets = await make_tickets(config, rep, token, args.tickets)
    base = config.service_url(SERVICE_DESK)
    pid = config.replica_pid(SERVICE_DESK)
    assert pid is not None
    rss_before = rss_mib(pid)
    subscribers = [Subscriber(tickets[n % len(tickets)]) for n in range(args.subscriptions)]
    stop = asyncio.Event()
    ready = asyncio.Semaphore(0)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        tasks = []
        for subscriber in subscribers:
            tasks.append(
                asyncio.create_task(
                    run_subscriber(session, f"{base}/graphql", token, subscriber, ready, stop)
                )
            )
        for _ in subscribers:
            await asyncio.wait_for(ready.acquire(), 120)
        # Another process's gauge: polled (every subscribe message has been sent by now).
        while await listeners(base) < args.subscriptions:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        open_s = time.perf_counter() - started
        await asyncio.sleep(2)  # let the process settle before reading its memory
        rss_open = rss_mib(pid)

        producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all")
        await producer.start()
        sent: list[tuple[str, float]] = []
        try:
            for n in range(args.events):
                ticket = tickets[n % len(tickets)]
                event = CloudEvent.new(
                    TicketStatusChanged(
                        ticket_id=ticket,
                        customer_id="bench",
                        from_status="NEW",
                        to_status="NEW",
                        actor_id="bench",
                        changed_at=datetime.now(UTC),
                    ),
                    source="crm/bench",
                    tenant_id=tenant,
                    key=ticket,
                )
                at = time.perf_counter()
                await producer.send_and_wait(
                    TOPIC, value=event.body(), key=event.key.encode(), headers=event.headers()
                )
                sent.append((ticket, at))
                await asyncio.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - at)))
        finally:
            await producer.stop()
        per_ticket = {t: [s for s in subscribers if s.ticket_id == t] for t in tickets}
        expected = sum(len(per_ticket[t]) for t, _ in sent)
        deadline = time.perf_counter() + 60
        while sum(len(s.received) for s in subscribers) < expected:
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    # Each subscriber's n-th message answers the n-th event sent for its ticket.
    latencies: list[float] = []
    missing = 0
    for ticket, subs in per_ticket.items():
        times = [at for t, at in sent if t == ticket]
        for s in subs:
            missing += max(0, len(times) - len(s.received))
            latencies += [(got - at) * 1000 for at, got in zip(times, s.received, strict=False)]
    return {
        "subscriptions": args.subscriptions,
        "tickets": args.tickets,
        "events": args.events,
        "rate_per_s": args.rate,
        "fetch_max_wait_ms": args.fetch_max_wait_ms,
        "deliveries": len(latencies),
        "missing": missing,
        "errors": sum(len(s.errors) for s in subscribers),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "open_all_s": round(open_s, 1),
        "rss_before_mib": round(rss_before, 1),
        "rss_open_mib": round(rss_open, 1),
        "kib_per_subscription": round((rss_open - rss_before) * 1024 / args.subscriptions, 1),
        "load_avg": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slot", type=int, default=int(os.environ.get("BENCH_SLOT", "9")))
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--p99-budget-ms", type=float, default=100)
    parser.add_argument(
        "--fetch-max-wait-ms", type=int, default=None, help="LIVE_FETCH_MAX_WAIT_MS of the services"
    )
    args = parser.parse_args()
    var_dir = REPO / "var" / f"bench-live-{args.slot}"
    env = {"LOG_LEVEL": "WARNING", "OUTBOX_POLL_INTERVAL_S": "0.2"}
    if args.fetch_max_wait_ms is not None:
        env["LIVE_FETCH_MAX_WAIT_MS"] = str(args.fetch_max_wait_ms)
    config = stack.StackConfig.for_slot(args.slot, var_dir, env, replicas=1)
    stack.infra(config, "down")
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    stack.infra(config, "up")
    try:
        stack.ensure_topics(config)
        stack.up(config, with_infra=False)
        result = asyncio.run(bench(config, args))
    finally:
        stack.down(config, with_infra=False)
        stack.infra(config, "down")
    print(json.dumps(result, indent=2))
    if result["missing"] or result["errors"] or result["p99_ms"] > args.p99_budget_ms:
        sys.exit(1)


if __name__ == "__main__":
    main()
