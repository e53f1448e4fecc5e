# ruff: noqa: S603, S607 - a dev tool starting fixed local commands
"""Gateway benchmark on the public scenario (`make bench-gateway`).

The scenario of graphql-hive/graphql-gateways-benchmark, rebuilt from its description: four
federation subgraphs (accounts, inventory, products, reviews: same schema and data sizes,
our own Go code in gateway/bench, built into var/bench-public/bin and cached), the deep
``users``/``topProducts`` query (about 87 KB of answer: five levels of entity fetches, a
``@requires`` and a ``@provides``), 50 virtual users on loopback, each gateway loaded for a
fixed time, the gateways alternated round after round with the same worker count:

- ``ours``: crm_gateway (``GATEWAY_WORKERS``), and ``ours-nodedup`` with incoming-request
  deduplication turned off (the setting's name: ``--dedup-setting``, default
  ``GATEWAY_DEDUP_REQUESTS``);
- ``hive``, ``hive-jit``, ``hive-dedup``: Hive Gateway (npm ``@graphql-hive/gateway``,
  ``--fork``) by default, with ``--jit``, and as the public benchmark configures it
  (``--jit`` and ``inboundInflightRequestDeduplication``);
- ``router``, ``router-dedupe``: Hive Router (``cargo install hive-router``, crates.io, into
  var/hive-router; ``ROUTER_HTTP_WORKERS``) by default and with
  ``traffic_shaping.router.dedupe`` as the public benchmark configures it.

All gateways serve the same supergraph file (composed by
crm_gateway.federation.supergraph.composition from the subgraphs' SDL; also checked with
@theguild/federation-composition when it is installed).
Reported per gateway: requests/s, p50/p99, failed responses, CPU seconds per 1,000 requests
(the gateway's processes, from /proc; also the subgraphs' and the load generator's) and
whether its answer is identical to ours (after JSON normalisation, and in field order).
The load average is recorded beside each run: the machine may be shared.

Usage: ``uv run python gateway/tools/bench_public.py [--seconds 20] [--rounds 3]
[--vus 50] [--workers 2] [--only ours,hive,router] [--profile]``. ``--profile`` instead
samples our gateway (one worker, py-spy from PyPI) under the same load and sorts its CPU
into parsing, planning, fetch, JSON decode, shaping, encode and the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import linecache
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from peers import hive_gateway_binary  # noqa: E402

WORK = ROOT / "var" / "bench-public"
GO_SRC = ROOT / "gateway" / "bench"
ROUTER_DIR = ROOT / "var" / "hive-router"
ROUTER_VERSION = "0.3.10"
SUBGRAPHS = ("accounts", "inventory", "products", "reviews")

QUERY = """fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }
query TestQuery {
  users {
    ...User
    reviews {
      ...Review
      product {
        ...Product
        reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } }
      }
    }
  }
  topProducts {
    ...Product
    reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } }
  }
}"""

ALL = ("ours", "ours-nodedup", "hive", "hive-jit", "hive-dedup", "router", "router-dedupe")


# -- processes ------------------------------------------------------------------------------------


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU of a process, its threads and all its descendants (Linux /proc)."""
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


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Gateway:
    name: str
    port: int
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def start(self) -> None:
        log = open(WORK / f"{self.name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            self.cmd,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# -- builds and installs (cached under var/) ------------------------------------------------------


def go_binaries() -> Path:
    """Build the Go subgraphs and load generator; rebuilt only when their sources change."""
    bin_dir = WORK / "bin"
    digest = hashlib.sha256()
    for path in sorted(GO_SRC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(GO_SRC).as_posix().encode() + path.read_bytes())
    stamp = bin_dir / ".source-sha256"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return bin_dir
    bin_dir.mkdir(parents=True, exist_ok=True)
    print("building the Go subgraphs and load generator ...", flush=True)
    subprocess.run(["go", "build", "-o", str(bin_dir) + "/", "./cmd/..."], cwd=GO_SRC, check=True)
    stamp.write_text(digest.hexdigest())
    return bin_dir


def hive_router() -> Path | None:
    """``cargo install hive-router`` into var/hive-router (long: one job, several minutes)."""
    binary = ROUTER_DIR / "bin" / "hive_router"
    if binary.exists():
        return binary
    if os.environ.get("BENCH_BUILD_ROUTER") != "1":
        print(
            "Hive Router is not built: BENCH_BUILD_ROUTER=1 builds it (cargo install "
            f"hive-router@{ROUTER_VERSION} --root {ROUTER_DIR}, CARGO_BUILD_JOBS=1; its "
            "dependencies need rustc 1.97: the nightly toolchain is used when stable is older)",
            flush=True,
        )
        return None
    toolchain = ["+nightly"] if _stable_too_old() else []
    # --features graphiql: its build script otherwise npm-installs the Laboratory UI
    # (@graphql-hive/laboratory), which not every registry serves; the UI plays no part here.
    subprocess.run(
        [
            "cargo",
            *toolchain,
            "install",
            f"hive-router@{ROUTER_VERSION}",
            "--locked",
            "--features",
            "graphiql",
            "--root",
            str(ROUTER_DIR),
        ],
        env={
            **os.environ,
            "CARGO_BUILD_JOBS": os.environ.get("CARGO_BUILD_JOBS", "1"),
            # Compiled dependencies kept under var/: an interrupted build resumes.
            "CARGO_TARGET_DIR": str(ROUTER_DIR / "target"),
        },
        check=True,
    )
    return binary


def _stable_too_old() -> bool:
    out = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout
    major, minor = (int(part) for part in out.split()[1].split(".")[:2])
    return (major, minor) < (1, 97)


# -- supergraph -----------------------------------------------------------------------------------


async def wait_http(url: str, timeout_s: float = 90.0, graphql: bool = True) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                if graphql:
                    request = session.post(url, json={"query": "{ __typename }"})
                else:
                    request = session.get(url)
                async with request as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not become ready (see {WORK}/*.log)")
            await asyncio.sleep(0.3)


async def compose_supergraph(subgraph_base: str) -> Path:
    from crm_gateway.federation.supergraph.composition import compose, load_sdls
    from crm_gateway.federation.supergraph.printer import print_supergraph

    urls = {name: f"{subgraph_base}/{name}" for name in SUBGRAPHS}
    async with aiohttp.ClientSession() as session:
        sdls = await load_sdls(session, urls, wait_s=30)
    sdl_dir = WORK / "sdl"
    sdl_dir.mkdir(parents=True, exist_ok=True)
    for name, (url, sdl) in sdls.items():
        (sdl_dir / f"{name}.graphql").write_text(f"# url: {url}\n{sdl}", encoding="utf-8")
    path = WORK / "supergraph.graphql"
    path.write_text(print_supergraph(compose(sdls)), encoding="utf-8")
    return path


def check_composition() -> None:
    """The same SDLs through @theguild/federation-composition (``make supergraph-check``)."""
    checker = ROOT / "var" / "node-compose" / "compose_check.mjs"
    if checker.exists():
        subprocess.run(["node", str(checker), str(WORK / "sdl")], check=True)


# -- gateways -------------------------------------------------------------------------------------


def gateways(args: argparse.Namespace, supergraph: Path) -> list[Gateway]:
    wanted = set(args.only.split(",")) if args.only else set(ALL)
    base = args.port_base + 1
    found: list[Gateway] = []
    ours_env = {
        "SUPERGRAPH_FILE": str(supergraph),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_AUTH": "off",
        "GATEWAY_ALLOW_INSECURE": "true",
        "GATEWAY_WORKERS": str(args.workers),
        "LOG_LEVEL": "WARNING",
        # The public query's estimated cost is over the default limit (issue 19, item 3
        # calibrates the estimate); the peers enforce no cost limit either.
        "GATEWAY_MAX_COST": "10000000",
    }
    for pair in args.ours_env:
        key, _, value = pair.partition("=")
        ours_env[key] = value
    crm_gateway = shutil.which("crm-gateway") or str(Path(sys.executable).parent / "crm-gateway")
    for i, (name, extra) in enumerate(
        (("ours", {}), ("ours-nodedup", {args.dedup_setting: "false"}))
    ):
        if name in wanted:
            env = {**ours_env, **extra, "GATEWAY_PORT": str(base + i)}
            found.append(Gateway(name, base + i, [crm_gateway], env))
    for i, spec in enumerate(args.variant, start=10):  # ours with other settings
        name, _, pairs = spec.partition(":")
        extra = dict(pair.partition("=")[::2] for pair in pairs.split(";") if pair)
        env = {**ours_env, **extra, "GATEWAY_PORT": str(base + i)}
        found.append(Gateway(name, base + i, [crm_gateway], env))
    if wanted & {"hive", "hive-jit", "hive-dedup"}:
        hive = hive_gateway_binary()
        for i, (name, flags) in enumerate(
            (("hive", []), ("hive-jit", ["--jit"]), ("hive-dedup", ["--jit"])), start=2
        ):
            if name not in wanted:
                continue
            cwd = WORK / name
            cwd.mkdir(exist_ok=True)
            config = cwd / "gateway.config.mjs"
            config.write_text(
                "export const gatewayConfig = { inboundInflightRequestDeduplication: true };\n"
                if name == "hive-dedup"
                else "export const gatewayConfig = {};\n"
            )
            cmd = [str(hive), "supergraph", str(supergraph), "--host", "127.0.0.1"]
            cmd += ["--port", str(base + i), "--fork", str(args.workers), *flags]
            found.append(Gateway(name, base + i, cmd, {"NODE_ENV": "production"}, cwd))
    if wanted & {"router", "router-dedupe"}:
        router = hive_router()
        for i, name in enumerate(("router", "router-dedupe"), start=5):
            if router is None or name not in wanted:
                continue
            cwd = WORK / name
            cwd.mkdir(exist_ok=True)
            dedupe = "true" if name == "router-dedupe" else "false"
            (cwd / "router.config.yaml").write_text(
                f"supergraph:\n  source: file\n  path: {supergraph}\nlog:\n  level: warn\n"
                f"traffic_shaping:\n  router:\n    dedupe:\n      enabled: {dedupe}\n"
            )
            env = {
                "ROUTER_CONFIG_FILE_PATH": str(cwd / "router.config.yaml"),
                "HOST": "127.0.0.1",
                "PORT": str(base + i),
                "ROUTER_HTTP_WORKERS": str(args.workers),
            }
            found.append(Gateway(name, base + i, [str(router)], env, cwd))
    return found


async def answers(urls: dict[str, str]) -> dict[str, bytes]:
    out = {}
    async with aiohttp.ClientSession() as session:
        for name, url in urls.items():
            async with session.post(url, json={"query": QUERY}) as response:
                out[name] = await response.read()
    return out


def equality(raw: dict[str, bytes], reference: str) -> dict[str, str]:
    """Each answer against the reference: identical after normalisation, and in field order."""
    parsed = {name: json.loads(body) for name, body in raw.items()}
    normal = {n: json.dumps(p, sort_keys=True, separators=(",", ":")) for n, p in parsed.items()}
    ordered = {n: json.dumps(p, separators=(",", ":")) for n, p in parsed.items()}
    verdict = {}
    for name in raw:
        if "errors" in parsed[name] or not parsed[name].get("data"):
            verdict[name] = f"errors: {json.dumps(parsed[name].get('errors'))[:200]}"
        elif "errors" in parsed[reference] or not parsed[reference].get("data"):
            verdict[name] = f"{reference} failed; {len(raw[name]):,} bytes"
        elif False:
            verdict[name] = f"errors: {json.dumps(parsed[name].get('errors'))[:200]}"
        elif name == reference:
            verdict[name] = f"reference ({len(raw[name]):,} bytes)"
        elif normal[name] != normal[reference]:
            verdict[name] = "DIFFERENT"
        elif ordered[name] != ordered[reference]:
            verdict[name] = "identical (other field order)"
        else:
            verdict[name] = "identical"
    return verdict


# -- load -----------------------------------------------------------------------------------------


def run_load(bin_dir: Path, url: str, seconds: float, vus: int) -> dict[str, float]:
    body = WORK / "request.json"
    body.write_text(json.dumps({"query": QUERY}))
    out = subprocess.run(
        [
            str(bin_dir / "load"),
            "-url",
            url,
            "-body",
            str(body),
            "-vus",
            str(vus),
            "-duration",
            f"{seconds}s",
        ],
        check=True,
        capture_output=True,
        text=True,
        start_new_session=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(
    bin_dir: Path, gw: Gateway, subgraphs_pid: int, seconds: float, vus: int
) -> dict[str, float | str]:
    assert gw.proc is not None
    load_before = loadavg()
    gw_cpu, sg_cpu = cpu_seconds(gw.proc.pid), cpu_seconds(subgraphs_pid)
    children_cpu = _children_cpu()
    result: dict[str, float | str] = dict(run_load(bin_dir, gw.url, seconds, vus))
    result["gateway_cpu_s"] = cpu_seconds(gw.proc.pid) - gw_cpu
    result["subgraphs_cpu_s"] = cpu_seconds(subgraphs_pid) - sg_cpu
    result["load_cpu_s"] = _children_cpu() - children_cpu
    result["loadavg"] = load_before
    return result


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def summarise(runs: list[dict[str, float | str]]) -> dict[str, float]:
    def total(key: str) -> float:
        return sum(float(r[key]) for r in runs)

    requests = total("requests")
    p50 = sorted(float(r["p50_ms"]) for r in runs)
    p99 = sorted(float(r["p99_ms"]) for r in runs)
    return {
        "rps": requests / total("seconds"),
        "p50_ms": p50[len(p50) // 2],
        "p99_ms": p99[len(p99) // 2],
        "failed": total("failed"),
        "requests": requests,
        "gw_cpu_per_1k": 1000 * total("gateway_cpu_s") / max(1.0, requests),
        "sg_cpu_per_1k": 1000 * total("subgraphs_cpu_s") / max(1.0, requests),
        "load_cpu_per_1k": 1000 * total("load_cpu_s") / max(1.0, requests),
    }


def report(
    args: argparse.Namespace,
    results: dict[str, list[dict[str, float | str]]],
    verdict: dict[str, str],
    loads: list[str],
) -> str:
    lines = [
        f"{args.vus} VUs, {args.seconds:g} s per run, {args.rounds} rounds alternated, "
        f"{args.workers} worker(s) per gateway, loopback, {os.cpu_count()} CPUs; "
        f"load average before the runs: {', '.join(loads)}",
        "",
        "| gateway | req/s | p50 ms | p99 ms | failed | gateway CPU s / 1,000 req "
        "| subgraphs CPU s / 1,000 req | answer vs ours |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    summary = {name: summarise(runs) for name, runs in results.items()}
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['rps']:,.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} "
            f"| {s['failed']:.0f} | {s['gw_cpu_per_1k']:.2f} | {s['sg_cpu_per_1k']:.2f} "
            f"| {verdict.get(name, '-')} |"
        )
    if "ours" in summary:
        lines.append("")
        ours = summary["ours"]
        for name, s in summary.items():
            if name != "ours":
                lines.append(
                    f"- ours / {name}: {ours['rps'] / s['rps']:.2f}x the req/s; CPU per "
                    f"request {name} / ours: {s['gw_cpu_per_1k'] / ours['gw_cpu_per_1k']:.2f}"
                )
    lines.append("")
    lines.append("Per run (req/s, load average before it):")
    for name, runs in results.items():
        per = ", ".join(f"{float(r['rps']):,.0f} ({r['loadavg']})" for r in runs)
        lines.append(f"- {name}: {per}")
    return "\n".join(lines)


# -- profile --------------------------------------------------------------------------------------

# Where a sample's time goes: the innermost Python frame's source line first (a C call such as
# orjson.loads shows as the Python line calling it), then the innermost frame's file.
LINE_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("JSON decode", ("loads(",)),
    ("encode", ("dumps(", "encode(")),
)
FILE_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("parsing and validation (graphql-core)", ("graphql/language", "graphql/validation")),
    ("planning (and its cache)", ("crm_gateway/federation/planning", "crm_gateway/edge/cost")),
    ("shaping", ("crm_gateway/federation/shaping",)),
    (
        "fetch (subgraph client)",
        ("crm_gateway/federation/execution/client", "aiohttp/client", "aiohttp/connector"),
    ),
    ("execution (fetch orchestration)", ("crm_gateway/federation/execution/executor",)),
    ("HTTP server (aiohttp.web)", ("aiohttp/web", "aiohttp/http", "aiohttp/streams")),
    ("edge (gateway.py, limits, headers)", ("crm_gateway/",)),
    ("event loop (asyncio)", ("asyncio/",)),
)
FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*):(?P<line>\d+)\)$")


def _category(frames: list[str]) -> str:
    parsed = [m for m in (FRAME.match(frame) for frame in reversed(frames)) if m]
    if parsed:
        leaf = parsed[0]
        text = linecache.getline(leaf["path"], int(leaf["line"]))
        for name, keys in LINE_CATEGORIES:
            if any(key in text for key in keys):
                return name
    for match in parsed:
        for name, keys in FILE_CATEGORIES:
            if any(key in match["path"] for key in keys):
                return name
    return "other (interpreter, idle, libraries)"


def categorise(collapsed: Path) -> list[tuple[str, float]]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        total += int(count_text)
        counts[_category(stack.split(";"))] += int(count_text)
    return [(name, 100 * n / max(1, total)) for name, n in counts.most_common()]


def top_functions(collapsed: Path, n: int = 15) -> list[tuple[str, float]]:
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if count_text.isdigit():
            own[stack.split(";")[-1]] += int(count_text)
            total += int(count_text)
    return [(name, 100 * c / max(1, total)) for name, c in own.most_common(n)]


def profile(args: argparse.Namespace, bin_dir: Path, gw: Gateway, sg_pid: int) -> str:
    installed = shutil.which("py-spy")
    py_spy = [installed] if installed else ["uvx", "--from", "py-spy", "py-spy"]  # PyPI
    assert gw.proc is not None
    out = WORK / "profile.txt"
    spy = subprocess.Popen(
        [
            *py_spy,
            "record",
            "--format",
            "raw",
            "--output",
            str(out),
            "--rate",
            "200",
            "--pid",
            str(gw.proc.pid),
            "--subprocesses",
            "--gil",
            "--duration",
            str(int(args.seconds)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    time.sleep(1.0)
    result = measure(bin_dir, gw, sg_pid, args.seconds, args.vus)
    spy.wait(timeout=args.seconds + 60)
    lines = [
        f"py-spy, our gateway with {args.workers} worker(s), {args.vus} VUs, "
        f"{args.seconds:g} s: {float(result['rps']):,.0f} req/s under the profiler "
        f"(load average {result['loadavg']})",
        "",
        "| where our CPU goes | share of samples |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {share:.1f}% |" for name, share in categorise(out)]
    lines += ["", "Hottest functions (own time):", ""]
    lines += [f"- {share:.1f}% {name}" for name, share in top_functions(out)]
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vus", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("BENCH_PORT", 4580)))
    parser.add_argument(
        "--dedup-setting",
        default=os.environ.get("BENCH_DEDUP_SETTING", "GATEWAY_DEDUP_REQUESTS"),
        help="environment variable that turns our incoming-request deduplication off "
        "(set to false for ours-nodedup)",
    )
    parser.add_argument(
        "--ours-env", action="append", default=[], help="NAME=VALUE for our gateway (repeat)"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="another run of ours, NAME:ENV=VALUE;ENV=VALUE (e.g. an experiment; repeat)",
    )
    parser.add_argument("--profile", action="store_true", help="profile ours instead")
    parser.add_argument("--out", type=Path, default=WORK / "results.md")
    args = parser.parse_args()
    args.seconds = min(args.seconds, 120.0)  # bounded runs
    WORK.mkdir(parents=True, exist_ok=True)
    bin_dir = go_binaries()
    subgraphs = Gateway("subgraphs", args.port_base, [str(bin_dir / "subgraphs"), "-listen"])
    subgraphs.cmd.append(f"127.0.0.1:{args.port_base}")
    started: list[Gateway] = [subgraphs]
    try:
        subgraphs.start()
        asyncio.run(wait_http(f"http://127.0.0.1:{args.port_base}/health", graphql=False))
        supergraph = asyncio.run(compose_supergraph(f"http://127.0.0.1:{args.port_base}"))
        check_composition()
        if args.profile:
            args.only = "ours"
        peers = gateways(args, supergraph)
        for gw in peers:
            gw.start()
            started.append(gw)
        for gw in peers:
            asyncio.run(wait_http(gw.url))
        assert subgraphs.proc is not None
        sg_pid = subgraphs.proc.pid
        if args.profile:
            run_load(bin_dir, peers[0].url, 3.0, args.vus)  # warm-up
            text = profile(args, bin_dir, peers[0], sg_pid)
            print(text)
            (WORK / "profile.md").write_text(text + "\n")
            return
        raw = asyncio.run(answers({gw.name: gw.url for gw in peers}))
        for name, body in raw.items():
            (WORK / f"answer-{name}.json").write_bytes(body)
        verdict = equality(raw, "ours" if "ours" in raw else peers[0].name)
        for gw in peers:  # warm-up: JIT, plan caches, connection pools
            run_load(bin_dir, gw.url, 3.0, args.vus)
        results: dict[str, list[dict[str, float | str]]] = {gw.name: [] for gw in peers}
        loads = [loadavg()]
        for round_no in range(args.rounds):
            order = peers[round_no % len(peers) :] + peers[: round_no % len(peers)]
            for gw in order:
                run = measure(bin_dir, gw, sg_pid, args.seconds, args.vus)
                results[gw.name].append(run)
                print(f"round {round_no + 1} {gw.name}: {json.dumps(run)}", flush=True)
            loads.append(loadavg())
        text = report(args, results, verdict, loads)
        print("\n" + text)
        args.out.write_text(text + "\n")
        (WORK / "results.json").write_text(json.dumps(results, indent=1))
    finally:
        for gw in reversed(started):
            gw.stop()


if __name__ == "__main__":
    main()
