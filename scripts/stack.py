"""Start and stop the whole local suite: database, broker, five services and the gateway.

Used by `make run` / `make up` / `make down` and by the e2e tests (which run their own copy of
the stack on other ports and another state directory, so they never touch a developer's data).

    python scripts/stack.py run    # foreground; Ctrl-C stops everything
    python scripts/stack.py up     # background
    python scripts/stack.py down
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    port_offset: int


SERVICES = [
    Component("customer", "crm_customer.main", 1),
    Component("engagement", "crm_engagement.main", 2),
    Component("quoting", "crm_quoting.main", 3),
    Component("service-desk", "crm_service_desk.main", 4),
    Component("insights", "crm_insights.main", 5),
]
GATEWAY = Component("gateway", "crm_gateway.main", 0)


@dataclass
class StackConfig:
    """Where everything listens. The defaults are the developer stack of `make run`."""

    var_dir: Path = REPO / "var"
    base_port: int = 4000
    mongo_port: int = 27017
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_slot(
        cls, slot: int, var_dir: Path, extra_env: dict[str, str] | None = None
    ) -> StackConfig:
        """The test/bench stack of ``slot``: every port of the e2e stack shifted by 10·slot, so
        parallel runs (E2E_SLOT, BENCH_SLOT) never meet each other or `make run`."""
        shift = 10 * slot
        return cls(
            var_dir=var_dir,
            base_port=4100 + shift,
            mongo_port=27117 + shift,
            kafka_port=9192 + shift,
            kafka_controller_port=9193 + shift,
            extra_env=dict(extra_env or {}),
        )

    @property
    def mongodb_uri(self) -> str:
        return os.environ.get("MONGODB_URI") or f"mongodb://127.0.0.1:{self.mongo_port}/"

    @property
    def kafka_bootstrap(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{self.kafka_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.base_port}/graphql"

    def service_url(self, component: Component) -> str:
        return f"http://127.0.0.1:{self.base_port + component.port_offset}"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    def infra_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CRM_VAR_DIR": str(self.var_dir),
            "FERRETDB_PORT": str(self.mongo_port),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
        }

    def component_env(self, component: Component) -> dict[str, str]:
        env = {
            **os.environ,
            "CRM_VAR_DIR": str(self.var_dir),
            "MONGODB_URI": self.mongodb_uri,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "PYTHONUNBUFFERED": "1",
            # FerretDB loses concurrent updates of one document; one connection per process
            # serialises them (crm_common.mongo.create_client). Not needed for MongoDB.
            "MONGODB_MAX_POOL_SIZE": os.environ.get(
                "MONGODB_MAX_POOL_SIZE", "100" if os.environ.get("MONGODB_URI") else "1"
            ),
            **self.extra_env,
        }
        if component is GATEWAY:
            env["GATEWAY_PORT"] = str(self.base_port)
            env["GATEWAY_SUBGRAPHS"] = ",".join(
                f"{s.name}={self.service_url(s)}/graphql" for s in SERVICES
            )
        else:
            env["PORT"] = str(self.base_port + component.port_offset)
        return env


def _log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def _pid_alive(pid: int) -> bool:
    # A child of this process that exited stays a zombie (and answers kill 0) until reaped.
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass  # not our child: someone else reaps it
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _read_pid(path: Path) -> int | None:
    """The live pid recorded in ``path``, if it is still the component that wrote it.

    A stale pid file may name a pid the system has since given to another process; checking
    the command line keeps `down` from signalling a stranger.
    """
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _pid_alive(pid):
        return None
    module = {c.name: c.module for c in [*SERVICES, GATEWAY]}.get(path.stem)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    # Just after Popen a child may not have exec'd yet and still shows our own command line.
    if module and module not in cmdline and not _is_our_child(pid):
        return None
    return pid


def _is_our_child(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The command name in field 2 may hold spaces; the parent pid follows its closing paren.
    return int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def infra(config: StackConfig, action: str) -> None:
    subprocess.run(
        ["bash", str(REPO / "scripts" / "infra.sh"), action], check=True, env=config.infra_env()
    )


def ensure_topics(config: StackConfig) -> None:
    sys.path.insert(0, str(REPO / "libs" / "common" / "src"))
    from crm_common.events.topics import ensure_topics as create

    asyncio.run(create(config.kafka_bootstrap))


def start_component(config: StackConfig, component: Component) -> int:
    config.log_dir.mkdir(parents=True, exist_ok=True)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    pid_file = config.run_dir / f"{component.name}.pid"
    existing = _read_pid(pid_file)
    if existing:
        return existing
    port = config.base_port + component.port_offset
    if _port_in_use(port):
        raise RuntimeError(
            f"port {port} for {component.name} is taken by another process "
            f"(a stack left running? `ss -ltnp | grep {port}`)"
        )
    log = (config.log_dir / f"{component.name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", component.module],
        env=config.component_env(component),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=REPO,
    )
    pid_file.write_text(str(process.pid))
    return process.pid


def stop_component(config: StackConfig, component: Component, sig: int = signal.SIGTERM) -> None:
    pid_file = config.run_dir / f"{component.name}.pid"
    pid = _read_pid(pid_file)
    if pid:
        os.kill(pid, sig)
        deadline = time.monotonic() + 15
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def wait_ready(url: str, timeout_s: float, name: str, config: StackConfig) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        pid = _read_pid(config.run_dir / f"{name}.pid")
        if pid is None:
            raise RuntimeError(f"{name} exited; see {config.log_dir / (name + '.log')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{name} not ready at {url} after {timeout_s}s ({last})")


def up(config: StackConfig, *, with_infra: bool = True) -> float:
    started = time.monotonic()
    if with_infra:
        infra(config, "up")
    ensure_topics(config)
    for component in SERVICES:
        start_component(config, component)
    for component in SERVICES:
        wait_ready(f"{config.service_url(component)}/readyz", 90, component.name, config)
    start_component(config, GATEWAY)
    wait_ready(f"http://127.0.0.1:{config.base_port}/readyz", 120, GATEWAY.name, config)
    return time.monotonic() - started


def down(config: StackConfig, *, with_infra: bool = True) -> None:
    for component in [GATEWAY, *reversed(SERVICES)]:
        started = time.monotonic()
        stop_component(config, component)
        _log(f"{component.name} stopped in {time.monotonic() - started:.1f}s")
    if with_infra:
        infra(config, "down")


def banner(config: StackConfig, seconds: float) -> None:
    print(
        f"""
CRM suite is up in {seconds:.1f}s.

  Gateway (GraphQL + GraphiQL): {config.gateway_url}
  Subgraphs: {", ".join(f"{c.name} {config.service_url(c)}/graphql" for c in SERVICES)}
  MongoDB (FerretDB): {config.mongodb_uri}   Kafka: {config.kafka_bootstrap}
  Logs: {config.log_dir}/

  Get a token:  make token TENANT=acme ROLE=admin
""",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["run", "up", "down", "status"])
    parser.add_argument(
        "--seed", action="store_true", help="run/up: fill the demo tenant once the stack is up"
    )
    args = parser.parse_args()
    config = StackConfig()
    if args.action == "down":
        down(config)
        return
    if args.action == "status":
        for component in [*SERVICES, GATEWAY]:
            pid = _read_pid(config.run_dir / f"{component.name}.pid")
            print(f"{component.name:13} {'running pid ' + str(pid) if pid else 'stopped'}")
        infra(config, "status")
        return
    try:
        seconds = up(config)
    except Exception as exc:
        _log(f"start-up failed: {exc}")
        down(config)
        sys.exit(1)
    banner(config, seconds)
    if args.seed:
        # A failed seed leaves the stack running: the seeder is idempotent, `make seed` retries.
        try:
            seeded = subprocess.run([sys.executable, str(REPO / "scripts" / "seed.py")])
        except KeyboardInterrupt:
            if args.action == "run":  # Ctrl-C while seeding still stops everything
                down(config)
                return
            raise
        if seeded.returncode != 0:
            _log("seeding the demo tenant failed; the stack keeps running (retry: make seed)")
    if args.action == "up":
        return
    stop = {"now": False}

    def request_stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    _log("running; Ctrl-C stops everything")
    while not stop["now"]:
        time.sleep(0.5)
        for component in [*SERVICES, GATEWAY]:
            if _read_pid(config.run_dir / f"{component.name}.pid") is None:
                _log(f"{component.name} exited; see {config.log_dir}/{component.name}.log")
                stop["now"] = True
    _log("stopping")
    down(config)


if __name__ == "__main__":
    main()
