"""Mixed read/write load through the gateway, with RSS per process sampled over time.

Starts its own copy of the suite (FerretDB, Kafka, five services, gateway) on the ports of one
slot (``--slot``/``BENCH_SLOT``, default 9; loopback only), seeds a tenant, then runs
``--concurrency`` closed-loop clients for ``--duration`` seconds. Each client picks the next
operation at random from a fixed mix (reads: a customers page, one customer with its federated
interactions/opportunities/tickets, a report; writes: create customer, log interaction, create
opportunity, open ticket) and sends it as soon as the previous answer is in. It stops by itself.

Reports throughput, p50/p99 per operation, the error rate (any HTTP status other than 200 or
any GraphQL error counts; the run fails unless it is 0) and the resident memory of every
process of the stack, read from /proc every few seconds (first/last/max; growth is flagged).
The figures go to stdout, to ``--json`` if given, and into docs/benchmarks.md (between the
``load:begin``/``load:end`` markers) unless ``--no-doc``.

    uv run python scripts/load_test.py --duration 180 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "libs" / "common" / "src"))

import stack  # noqa: E402

from crm_common.auth import issue_dev_token, load_or_create_dev_secret  # noqa: E402

DOC = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
SEED_CUSTOMERS = 40
RSS_INTERVAL_S = 5.0
# Flag a process whose RSS in the last quarter of the run is this much above the first quarter
# (after warm-up), in relative and absolute terms.
GROWTH_RATIO, GROWTH_MB = 1.2, 20.0

CUSTOMERS_PAGE = """query Page {
  customers(first: 20, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id number name status industry } } } }"""
CUSTOMER_360 = """query Customer360($id: ID!) {
  customer(id: $id) {
    id number name status
    interactions(first: 5) { totalCount edges { node { kind content occurredAt } } }
    opportunities(first: 5) { totalCount edges { node { name stage } } }
    tickets(first: 5) { totalCount edges { node { title status priority } } } } }"""
REPORT = """query Reports {
  customerGrowth(bucket: WEEK) { total rows { period customerType count } }
  leaderboard { owners { rank key newCustomers interactions } } }"""
CREATE_CUSTOMER = """mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id number } } }"""
LOG_INTERACTION = """mutation LogInteraction($input: LogInteractionInput!) {
  logInteraction(input: $input) { interaction { id } } }"""
CREATE_OPPORTUNITY = """mutation CreateOpportunity($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { opportunity { id } } }"""
OPEN_TICKET = """mutation OpenTicket($input: OpenTicketInput!) {
  openTicket(input: $input) { ticket { id } } }"""


@dataclass
class Operation:
    name: str
    weight: int
    query: str
    variables: Callable[[random.Random], dict[str, Any]]


@dataclass
class Stats:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def record(self, name: str, ms: float, error: str | None) -> None:
        self.latencies_ms.setdefault(name, []).append(ms)
        if error is not None:
            self.errors[name] = self.errors.get(name, 0) + 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{name}: {error[:300]}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[rank]


def config_for(slot: int) -> stack.StackConfig:
    return stack.StackConfig.for_slot(
        slot,
        REPO / "var" / f"bench-load-{slot}",
        {"LOG_LEVEL": "WARNING", "OUTBOX_POLL_INTERVAL_S": "0.2"},
    )


class Gateway:
    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self._http, self._url = http, url
        self._headers = {"Authorization": f"Bearer {token}"}

    async def call(self, query: str, variables: dict[str, Any]) -> tuple[Any, str | None]:
        """The data and, if the call failed in any way, why."""
        try:
            response = await self._http.post(
                self._url, json={"query": query, "variables": variables}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            return None, repr(exc)
        if response.status_code != 200:
            return None, f"HTTP {response.status_code}: {response.text[:200]}"
        body = response.json()
        if body.get("errors"):
            return body.get("data"), json.dumps(body["errors"])[:300]
        return body["data"], None


async def seed(gateway: Gateway, count: int) -> list[str]:
    """Customers the mix can log interactions and open tickets for (once the events arrived)."""
    ids: list[str] = []
    for n in range(count):
        data, error = await gateway.call(
            CREATE_CUSTOMER, {"input": {"name": f"Load Seed {n} {uuid.uuid4().hex[:6]}"}}
        )
        if error:
            raise RuntimeError(f"seeding failed: {error}")
        ids.append(data["createCustomer"]["customer"]["id"])
    # Engagement, the service desk and quoting learn customers from Kafka: wait until all three
    # know the last.
    deadline = time.monotonic() + 120
    for query, payload in [
        (LOG_INTERACTION, {"customerId": ids[-1], "kind": "EMAIL", "content": "seed"}),
        (OPEN_TICKET, {"customerId": ids[-1], "title": "seed"}),
        (CREATE_OPPORTUNITY, {"customerId": ids[-1], "name": "seed"}),
    ]:
        while True:
            _, error = await gateway.call(query, {"input": payload})
            if error is None:
                break
            if "NOT_FOUND" not in error and "CUSTOMER_NOT_READY" not in error:
                raise RuntimeError(f"seeding failed: {error}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"seeding failed: {error}")
            await asyncio.sleep(0.5)
    return ids


def operations(customers: list[str]) -> list[Operation]:
    def any_customer(rng: random.Random) -> str:
        return rng.choice(customers)

    return [
        Operation("customers_page", 20, CUSTOMERS_PAGE, lambda _: {}),
        Operation("customer_360", 25, CUSTOMER_360, lambda r: {"id": any_customer(r)}),
        Operation("reports", 10, REPORT, lambda _: {}),
        Operation(
            "create_customer",
            15,
            CREATE_CUSTOMER,
            lambda r: {"input": {"name": f"Load Co {uuid.uuid4().hex[:12]}"}},
        ),
        Operation(
            "log_interaction",
            20,
            LOG_INTERACTION,
            lambda r: {
                "input": {
                    "customerId": any_customer(r),
                    "kind": r.choice(["PHONE_CALL", "EMAIL", "VISIT", "MEETING"]),
                    "content": "load test touch",
                }
            },
        ),
        Operation(
            "create_opportunity",
            5,
            CREATE_OPPORTUNITY,
            lambda r: {
                "input": {
                    "customerId": any_customer(r),
                    "name": "Load deal",
                    "amount": {"amountMinor": str(r.randrange(1, 10**7)), "currency": "CNY"},
                }
            },
        ),
        Operation(
            "open_ticket",
            5,
            OPEN_TICKET,
            lambda r: {"input": {"customerId": any_customer(r), "title": "Load ticket"}},
        ),
    ]


async def run_clients(
    gateway: Gateway, ops: list[Operation], concurrency: int, duration_s: float, seed_value: int
) -> tuple[Stats, float]:
    stats = Stats()
    deadline = time.monotonic() + duration_s

    async def client(index: int) -> None:
        rng = random.Random(seed_value + index)  # noqa: S311 - a workload mix, not a secret
        weights = [op.weight for op in ops]
        while time.monotonic() < deadline:
            op = rng.choices(ops, weights)[0]
            started = time.perf_counter()
            _, error = await gateway.call(op.query, op.variables(rng))
            stats.record(op.name, (time.perf_counter() - started) * 1000, error)

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return stats, time.monotonic() - started


def stack_pids(config: stack.StackConfig) -> dict[str, int]:
    pids: dict[str, int] = {}
    for name in ["gateway", *(c.name for c in stack.SERVICES), "ferretdb", "kafka"]:
        try:
            pids[name] = int((config.run_dir / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
    return pids


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def sample_rss(
    pids: dict[str, int], samples: dict[str, list[float]], stop: asyncio.Event
) -> None:
    while True:
        for name, pid in pids.items():
            value = rss_mb(pid)
            if value is not None:
                samples.setdefault(name, []).append(value)
        try:
            await asyncio.wait_for(stop.wait(), RSS_INTERVAL_S)
            return
        except TimeoutError:
            continue


def rss_summary(samples: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for name, values in samples.items():
        quarter = max(1, len(values) // 4)
        early = sum(values[:quarter]) / quarter
        late = sum(values[-quarter:]) / quarter
        summary[name] = {
            "first_mb": round(values[0], 1),
            "last_mb": round(values[-1], 1),
            "max_mb": round(max(values), 1),
            "samples": len(values),
            "growth": late > early * GROWTH_RATIO and late - early > GROWTH_MB,
        }
    return summary


def machine_facts() -> dict[str, str]:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    kafka_jars = sorted((REPO / "var" / "kafka" / "libs").glob("kafka_2.13-*.jar"))
    kafka = kafka_jars[0].stem.removeprefix("kafka_2.13-") if kafka_jars else "unknown"
    # The launcher embeds the FerretDB module at the version its go.mod pins.
    ferretdb = "unknown"
    go_mod = REPO / "deploy" / "local" / "ferretdb" / "go.mod"
    for line in go_mod.read_text().splitlines():
        if "github.com/FerretDB/FerretDB " in line:
            ferretdb = line.split()[-1]
    return {
        "cpus": str(os.cpu_count()),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ferretdb": ferretdb,
        "kafka": kafka,
        "load_average_at_start": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


async def measure(config: stack.StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    tenant = f"load-{uuid.uuid4().hex[:8]}"
    secret = load_or_create_dev_secret(config.var_dir / "dev-jwt-secret")
    token = issue_dev_token(secret, tenant=tenant, roles=["admin"], user_id="load-admin")
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        gateway = Gateway(http, config.gateway_url, token)
        customers = await seed(gateway, SEED_CUSTOMERS)
        ops = operations(customers)
        # Warm-up: connections, caches, query plans; not counted.
        await run_clients(gateway, ops, args.concurrency, min(10.0, args.duration / 10), 0)
        samples: dict[str, list[float]] = {}
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(stack_pids(config), samples, stop))
        stats, elapsed = await run_clients(gateway, ops, args.concurrency, args.duration, args.seed)
        stop.set()
        await sampler
    total = sum(len(v) for v in stats.latencies_ms.values())
    failed = sum(stats.errors.values())
    per_op = {
        name: {
            "count": len(values),
            "per_s": round(len(values) / elapsed, 1),
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values), 1),
            "errors": stats.errors.get(name, 0),
        }
        for name, values in sorted(stats.latencies_ms.items())
    }
    return {
        "duration_s": round(elapsed, 1),
        "concurrency": args.concurrency,
        "requests": total,
        "throughput_per_s": round(total / elapsed, 1),
        "errors": failed,
        "error_rate": round(failed / total, 5) if total else 1.0,
        "operations": per_op,
        "rss": rss_summary(samples),
        "error_samples": stats.error_samples,
        "load_average_at_end": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


def markdown(figures: dict[str, Any], facts: dict[str, str], command: str, note: str) -> str:
    lines = [
        BEGIN,
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}`.",
        "",
        f"Machine: {facts['cpus']} CPUs ({facts['cpu_model']}), {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}; FerretDB {facts['ferretdb']} "
        f"({os.environ.get('CRM_LOCAL_STORE') or 'postgresql'}); "
        f"Kafka {facts['kafka']} (KRaft, one node). Load average at start "
        f"{facts['load_average_at_start']}, at end {figures['load_average_at_end']}.",
        "",
    ]
    if note:
        lines += [note, ""]
    lines += [
        f"{figures['concurrency']} closed-loop clients for {figures['duration_s']} s: "
        f"**{figures['requests']} requests, {figures['throughput_per_s']} req/s, "
        f"{figures['errors']} errors (error rate {figures['error_rate']:.2%})**.",
        "",
        "| operation | requests | req/s | p50 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, op in figures["operations"].items():
        lines.append(
            f"| {name} | {op['count']} | {op['per_s']} | {op['p50_ms']} | {op['p99_ms']} "
            f"| {op['max_ms']} | {op['errors']} |"
        )
    lines += [
        "",
        f"Resident memory (VmRSS from /proc, every {RSS_INTERVAL_S:g} s during the run):",
        "",
        "| process | first MB | last MB | max MB | samples | growth flagged |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, rss in figures["rss"].items():
        lines.append(
            f"| {name} | {rss['first_mb']} | {rss['last_mb']} | {rss['max_mb']} "
            f"| {rss['samples']} | {'**yes**' if rss['growth'] else 'no'} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = f"{text.rstrip()}\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{section}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of measured load")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop clients")
    parser.add_argument("--seed", type=int, default=42, help="seed of the operation mix")
    parser.add_argument("--slot", type=int, default=int(os.environ.get("BENCH_SLOT", "9")))
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a sentence for the doc (e.g. machine busy)")
    args = parser.parse_args()

    config = config_for(args.slot)
    stack.infra(config, "down")
    shutil.rmtree(config.var_dir, ignore_errors=True)
    config.var_dir.mkdir(parents=True)
    stack.infra(config, "up")
    try:
        stack.ensure_topics(config)
        stack.up(config, with_infra=False)
        facts = machine_facts()
        figures = asyncio.run(measure(config, args))
    finally:
        stack.down(config)
    figures["machine"] = facts
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    command = shlex.join(
        [
            "uv",
            "run",
            "python",
            "scripts/load_test.py",
            *(a for a in sys.argv[1:] if a != "--no-doc"),
        ]
    )
    if not args.no_doc:
        write_doc(markdown(figures, facts, command, args.note))
    grown = [name for name, rss in figures["rss"].items() if rss["growth"]]
    if grown:
        print(f"RSS growth flagged for: {', '.join(grown)}", file=sys.stderr)
    if figures["errors"]:
        print(f"{figures['errors']} requests failed; the error rate must be 0", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
