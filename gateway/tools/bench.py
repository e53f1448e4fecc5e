# ruff: noqa: S603 - a dev tool starting fixed local commands
"""Gateway benchmark: crm_gateway vs Hive Gateway on the same supergraph and deep query.

Three small benchmark subgraphs (products, reviews, users; strawberry, in a child process)
are composed into one supergraph; both gateways serve it side by side on loopback. A fixed
number of concurrent clients (a separate process) send the same deep federated query
(50 products -> 3 reviews each -> author: three subgraphs, two nested ``_entities`` levels)
for a bounded time each. Reported: requests/s, p50/p99 and the ratio ours / Hive; each
gateway's own CPU time per request (all its processes; unlike req/s it does not depend on
how busy the shared machine is); and the overhead over calling one subgraph directly with a
one-subgraph query, measured one request at a time (with concurrent identical requests both
gateways share in-flight subgraph fetches and can come out faster than the direct call).

Usage: ``uv run python gateway/tools/bench.py [--seconds 10] [--concurrency 16]``
Hive Gateway (``@graphql-hive/gateway``) is installed from npm into ``var/bench-hive``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import strawberry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from peers import hive_gateway_binary  # noqa: E402

WORK = ROOT / "var" / "bench-gateway"
PORTS = {"products": 4961, "reviews": 4962, "users": 4963}
OURS_PORT, HIVE_PORT = 4970, 4971

DEEP_QUERY = """query Deep { products { id name price reviews { id body author { id name } } } }"""
FLAT_QUERY = """query Flat { products { id name price } }"""


# -- benchmark subgraphs (child process) --------------------------------------------------------


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id, name=f"user {id}")


@strawberry.federation.type(keys=["id"], name="User")
class Author:
    id: strawberry.ID


@strawberry.federation.type(keys=["id"])
class Review:
    id: strawberry.ID
    body: str
    author: Author


@strawberry.federation.type(keys=["id"], name="Product")
class ReviewedProduct:
    id: strawberry.ID

    @strawberry.field
    def reviews(self) -> list[Review]:
        n = int(self.id)
        return [
            Review(
                id=strawberry.ID(f"{n}-{i}"),
                body=f"review {i} of {n}",
                author=Author(id=strawberry.ID(str((n + i) % 10))),
            )
            for i in range(3)
        ]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ReviewedProduct:
        return cls(id=id)


@strawberry.federation.type(keys=["id"])
class Product:
    id: strawberry.ID
    name: str
    price: int


@strawberry.type
class ProductQuery:
    @strawberry.field
    def products(self) -> list[Product]:
        return [Product(id=strawberry.ID(str(i)), name=f"p{i}", price=i * 100) for i in range(50)]


@strawberry.type
class ReviewQuery:
    @strawberry.field
    def review_count(self) -> int:
        return 150


@strawberry.type
class UserQuery:
    @strawberry.field
    def user_count(self) -> int:
        return 10


def run_subgraphs() -> None:
    from aiohttp import web
    from strawberry.aiohttp.views import GraphQLView

    schemas = {
        "products": strawberry.federation.Schema(query=ProductQuery, types=[Product]),
        "reviews": strawberry.federation.Schema(
            query=ReviewQuery, types=[ReviewedProduct, Review, Author]
        ),
        "users": strawberry.federation.Schema(query=UserQuery, types=[User]),
    }

    async def main() -> None:
        runners = []
        for name, schema in schemas.items():
            app = web.Application()
            app.router.add_route("*", "/graphql", GraphQLView(schema=schema))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", PORTS[name]).start()
            runners.append(runner)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- load generator (child process) ---------------------------------------------------------------


async def load(url: str, query: str, seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    payload = json.dumps({"query": query}).encode()
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                async with session.post(url, data=payload, headers=headers) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - start)
                if response.status != 200 or b'"errors"' in body:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "mean_ms": 1000 * statistics.fmean(latencies),
        "errors": errors,
    }


def measure(url: str, query: str, seconds: float, concurrency: int) -> dict[str, float]:
    """Run the load generator in its own process so it does not share a loop with anything."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            url,
            "--query",
            query,
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU time of a process and all its descendants (Linux /proc).

    CPU per request does not depend on how busy the (shared) machine is, unlike req/s.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family = {root_pid}
    grown = True
    while grown:
        children = {pid for pid, parent in parents.items() if parent in family} - family
        grown = bool(children)
        family |= children
    return sum(times.get(pid, 0.0) for pid in family)


# -- orchestration --------------------------------------------------------------------------------


async def wait_ready(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.post(url, json={"query": "{ __typename }"}) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not become ready")
            await asyncio.sleep(0.3)


async def same_answers(urls: list[str], query: str) -> None:
    """Both gateways must answer the benchmark queries identically (and without errors)."""
    async with aiohttp.ClientSession() as session:
        answers = []
        for url in urls:
            async with session.post(url, json={"query": query}) as response:
                answers.append(await response.json())
    if "errors" in answers[0] or any(answer != answers[0] for answer in answers):
        raise RuntimeError(f"the gateways answer {query!r} differently: {answers}")


async def compose_supergraph() -> Path:
    from crm_gateway.federation.supergraph.composition import compose, load_sdls
    from crm_gateway.federation.supergraph.printer import print_supergraph

    urls = {name: f"http://127.0.0.1:{port}/graphql" for name, port in PORTS.items()}
    async with aiohttp.ClientSession() as session:
        sdls = await load_sdls(session, urls, wait_s=30)
    path = WORK / "supergraph.graphql"
    path.write_text(print_supergraph(compose(sdls)), encoding="utf-8")
    return path


def start(cmd: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    log = open(WORK / log_name, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--subgraphs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subgraphs:
        run_subgraphs()
        return
    if args.load:
        print(json.dumps(asyncio.run(load(args.load, args.query, args.seconds, args.concurrency))))
        return
    args.seconds = min(args.seconds, 30.0)  # bounded runs
    WORK.mkdir(parents=True, exist_ok=True)
    hive = hive_gateway_binary()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start([sys.executable, __file__, "--subgraphs"], {}, "subgraphs.log"))
        supergraph = asyncio.run(compose_supergraph())
        ours_env = {
            "SUPERGRAPH_FILE": str(supergraph),
            "GATEWAY_PORT": str(OURS_PORT),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_AUTH": "off",
            "GATEWAY_ALLOW_INSECURE": "true",
            "GATEWAY_WORKERS": str(args.workers),
            "LOG_LEVEL": "WARNING",
        }
        crm_gateway = shutil.which("crm-gateway") or str(
            Path(sys.executable).parent / "crm-gateway"
        )
        procs.append(start([crm_gateway], ours_env, "ours.log"))
        hive_cmd = [
            str(hive),
            "supergraph",
            str(supergraph),
            "--host",
            "127.0.0.1",
            "--port",
            str(HIVE_PORT),
            "--fork",
            str(args.workers),
        ]
        procs.append(start(hive_cmd, {"NODE_ENV": "production"}, "hive.log"))
        ours_url = f"http://127.0.0.1:{OURS_PORT}/graphql"
        hive_url = f"http://127.0.0.1:{HIVE_PORT}/graphql"
        direct_url = f"http://127.0.0.1:{PORTS['products']}/graphql"
        for url in (ours_url, hive_url):
            asyncio.run(wait_ready(url))
        for query in (DEEP_QUERY, FLAT_QUERY):
            asyncio.run(same_answers([ours_url, hive_url], query))
        results: dict[str, dict[str, float]] = {}
        gateway_pid = {ours_url: procs[1].pid, hive_url: procs[2].pid}
        for name, url, query in (
            ("warmup-ours", ours_url, DEEP_QUERY),
            ("warmup-hive", hive_url, DEEP_QUERY),
            ("ours deep", ours_url, DEEP_QUERY),
            ("hive deep", hive_url, DEEP_QUERY),
            ("direct flat (1 subgraph)", direct_url, FLAT_QUERY),
            ("ours flat (same subgraph)", ours_url, FLAT_QUERY),
            ("hive flat (same subgraph)", hive_url, FLAT_QUERY),
            # One request at a time: nothing in flight to share, so p50 minus the direct p50
            # is each gateway's own added latency.
            ("direct flat, sequential", direct_url, FLAT_QUERY),
            ("ours flat, sequential", ours_url, FLAT_QUERY),
            ("hive flat, sequential", hive_url, FLAT_QUERY),
        ):
            seconds = 2.0 if name.startswith("warmup") else args.seconds
            concurrency = 1 if name.endswith("sequential") else args.concurrency
            pid = gateway_pid.get(url)
            cpu_before = cpu_seconds(pid) if pid else 0.0
            results[name] = measure(url, query, seconds, concurrency)
            if pid:  # the gateway's own CPU per request, all its worker processes
                used = cpu_seconds(pid) - cpu_before
                results[name]["cpu_ms"] = 1000 * used / max(1, results[name]["requests"])
        report(results, args)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    print(
        f"\nconcurrency {args.concurrency}, {args.seconds:.0f} s per run, "
        f"{args.workers} worker process(es) per gateway, loopback\n"
    )
    print(
        f"{'run':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'gateway CPU ms/req':>19}"
    )
    for name, r in results.items():
        if name.startswith("warmup"):
            continue
        cpu = f"{r['cpu_ms']:19.2f}" if "cpu_ms" in r else f"{'-':>19}"
        print(
            f"{name:30} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['errors']:7.0f} {cpu}"
        )
    ours, hive = results["ours deep"], results["hive deep"]
    print(f"\nratio ours / Hive Gateway (deep, req/s): {ours['rps'] / hive['rps']:.2f}")
    print(
        "gateway CPU per deep request, Hive / ours (load-independent): "
        f"{hive['cpu_ms'] / ours['cpu_ms']:.2f}"
    )
    direct = results["direct flat, sequential"]
    sequential = (("ours", "ours flat, sequential"), ("Hive Gateway", "hive flat, sequential"))
    for label, name in sequential:
        overhead = results[name]["p50_ms"] - direct["p50_ms"]
        print(f"{label} overhead over a direct subgraph call (sequential, p50): {overhead:.2f} ms")


if __name__ == "__main__":
    main()
