# ruff: noqa: S603, ASYNC220 - a dev tool starting fixed local commands
"""Subscription benchmark: event -> subscriber latency with many open subscriptions.

The two test subgraphs of `gateway/tests/things_subgraphs.py` (``things`` owns
``Subscription.thingChanged``, ``extras`` adds ``Thing.label``) and one gateway run as
processes on loopback. ``--subscriptions`` graphql-transport-ws subscriptions (10 per
connection) select ``thingChanged { id name label }``, so every event needs one ``_entities``
call per subscription (identical calls of one user in flight together share one request,
``GATEWAY_DEDUP_INFLIGHT``). Then ``--events`` mutations, one at a time: each waits until every
subscriber has its event. Latency = mutation sent -> event received, per subscriber and event.
Memory per subscription = the gateway's RSS growth (``/proc/<pid>/status`` VmRSS) from before
the subscriptions to when all are open, divided by their number.

Usage: ``uv run python gateway/tools/bench_subscriptions.py [--subscriptions 1000] [--events 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

import aiohttp

from crm_common.auth import issue_dev_token

ROOT = Path(__file__).resolve().parents[2]
SUBGRAPHS = ROOT / "gateway" / "tests" / "things_subgraphs.py"
SECRET = "bench-subscriptions-secret-0123456789-abcdefghijklmnop"
PER_CONNECTION = 10
QUERY = "subscription Bench { thingChanged { id name label } }"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _wait_up(session: aiohttp.ClientSession, url: str, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with session.get(url.replace("/graphql", path)) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _entity_calls(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    async with session.post(url, json={"query": "{ entityCalls }"}, headers=headers) as resp:
        calls: int = (await resp.json())["data"]["entityCalls"]
        return calls


def _reference_us() -> float:
    """Time of ``sum(range(1000))`` here and now: ~10 µs on an idle modern core; higher
    means a loaded machine (the CPU and latency figures scale with it)."""
    number = 2000
    return round(timeit.timeit("sum(range(1000))", number=number) / number * 1e6, 1)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(subscriptions: int, events: int, query: str) -> dict[str, Any]:
    reference_before = _reference_us()
    env = {**os.environ, "JWT_SECRET": SECRET, "LOG_LEVEL": "WARNING"}
    ports = {"things": _port(), "extras": _port(), "gateway": _port()}
    urls = {name: f"http://127.0.0.1:{port}/graphql" for name, port in ports.items()}
    processes = [
        subprocess.Popen([sys.executable, str(SUBGRAPHS), kind, str(ports[kind])], env=env)
        for kind in ("things", "extras")
    ]
    gateway_env = {
        **env,
        "GATEWAY_PORT": str(ports["gateway"]),
        "GATEWAY_SUBGRAPHS": f"things={urls['things']},extras={urls['extras']}",
        "GATEWAY_MAX_SUBSCRIPTIONS_PER_CONNECTION": str(PER_CONNECTION),
    }
    token = issue_dev_token(SECRET, tenant="t1", roles=["admin"], user_id="u1")
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for kind in ("things", "extras"):
            await _wait_up(session, urls[kind], "/healthz")
        gateway = subprocess.Popen(
            [sys.executable, "-m", "crm_gateway.main"], env=gateway_env, cwd=ROOT
        )
        processes.append(gateway)
        try:
            await _wait_up(session, urls["gateway"], "/readyz")
            rss_before = _rss_kib(gateway.pid)
            sockets: list[aiohttp.ClientWebSocketResponse] = []
            for c in range((subscriptions + PER_CONNECTION - 1) // PER_CONNECTION):
                ws = await session.ws_connect(
                    urls["gateway"], protocols=("graphql-transport-ws",), max_msg_size=0
                )
                await ws.send_str(json.dumps({"type": "connection_init", "payload": headers}))
                assert json.loads((await ws.receive()).data)["type"] == "connection_ack"
                for i in range(min(PER_CONNECTION, subscriptions - c * PER_CONNECTION)):
                    await ws.send_str(
                        json.dumps({"id": str(i), "type": "subscribe", "payload": {"query": query}})
                    )
                sockets.append(ws)
            stats_query = {"query": "{ subscriptionStats { active } }"}
            deadline = time.monotonic() + 120
            while True:
                async with session.post(urls["things"], json=stats_query, headers=headers) as r:
                    active = (await r.json())["data"]["subscriptionStats"]["active"]
                if active >= subscriptions:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {active} subscriptions open")
                await asyncio.sleep(0.2)
            rss_open = _rss_kib(gateway.pid)
            latencies: list[float] = []
            arrivals: list[float] = []

            async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    message = json.loads(msg.data)
                    if message.get("type") == "next":
                        arrivals.append(time.perf_counter())
                    elif message.get("type") == "ping":
                        await ws.send_str('{"type":"pong"}')

            readers = [asyncio.create_task(reader(ws)) for ws in sockets]
            names = ("things", "extras", "gateway")
            cpu_before: dict[str, float] = {}
            for n in range(events + 1):  # event 0 warms up (plans, pools): not counted
                arrivals.clear()
                mutation = {
                    "query": f'mutation {{ changeThing(id: "t1", name: "bench-{n}") {{ id }} }}'
                }
                sent = time.perf_counter()
                async with session.post(urls["things"], json=mutation, headers=headers) as r:
                    await r.read()
                while len(arrivals) < subscriptions:
                    await asyncio.sleep(0.002)
                    if time.perf_counter() - sent > 60:
                        raise RuntimeError(f"event {n}: {len(arrivals)} of {subscriptions}")
                if n:
                    latencies.extend(t - sent for t in arrivals)
                else:
                    cpu_before = {k: _cpu_s(p.pid) for k, p in zip(names, processes, strict=True)}
                    calls_before = await _entity_calls(session, urls["extras"], headers)
            calls = await _entity_calls(session, urls["extras"], headers) - calls_before
            cpu = {
                k: round((_cpu_s(p.pid) - cpu_before[k]) / (events * subscriptions) * 1e6, 1)
                for k, p in zip(names, processes, strict=True)
            }
            for task in readers:
                task.cancel()
            for ws in sockets:
                await ws.close()
            return {
                "subscriptions": subscriptions,
                "events": events,
                "deliveries": subscriptions * events,
                "latency_ms": {
                    "p50": round(_percentile(latencies, 50) * 1000, 1),
                    "p99": round(_percentile(latencies, 99) * 1000, 1),
                    "max": round(max(latencies) * 1000, 1),
                },
                "gateway_rss_mib": {
                    "idle": round(rss_before / 1024, 1),
                    "open": round(rss_open / 1024, 1),
                },
                "gateway_kib_per_subscription": round((rss_open - rss_before) / subscriptions, 1),
                "cpu_us_per_delivery": cpu,
                "entity_requests_per_event": round(calls / events, 1),
                "query": query,
                "reference_sum_range_1000_us": [reference_before, _reference_us()],
                "load_average": os.getloadavg(),
            }
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument(
        "--no-entities", action="store_true", help="select no field of the second subgraph"
    )
    args = parser.parse_args()
    query = "subscription Bench { thingChanged { id name } }" if args.no_entities else QUERY
    result = asyncio.run(run(args.subscriptions, args.events, query))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
