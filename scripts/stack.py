"""Start and stop the whole local suite: database, broker, five services and the gateway.

Used by `make run` / `make up` / `make down` and by the e2e tests (which run their own copy of
the stack on other ports and another state directory, so they never touch a developer's data).

    python scripts/stack.py run    # foreground; Ctrl-C stops everything
    python scripts/stack.py up     # background
    python scripts/stack.py down
    python scripts/stack.py up --replicas 2   # every service as 2 processes (production shape)

Replicas: replica 0 of a service listens on its usual port (gateway base + 1..5), replica r on
that port + 1000·r (`REPLICA_PORT_STEP`), so the dev stack's customer runs on 4001, 5001, ...
and slot n's on 4101+10·n, 5101+10·n, ... — slots shift by 10·n and never reach the next
thousand. All replicas of a service share its database and its Kafka consumer group (the
service name); the gateway gets every replica's URL (GATEWAY_SUBGRAPHS
``name=url,url,...``) and balances over the healthy ones. Pid and log files: ``customer.pid``
/ ``customer.log`` for replica 0, ``customer.r1.pid`` / ``customer.r1.log`` for replica 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
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
# Replica r of a service listens on its port + REPLICA_PORT_STEP·r (slots shift by 10·n only).
REPLICA_PORT_STEP = 1000
MAX_REPLICAS = 5
_REPLICA_SUFFIX = re.compile(r"\.r\d+$")


@dataclass
class StackConfig:
    """Where everything listens. The defaults are the developer stack of `make run`."""

    var_dir: Path = REPO / "var"
    base_port: int = 4000
    mongo_port: int = 27017
    # FerretDB's PostgreSQL (CRM_LOCAL_STORE=postgresql, the default); mongo_port + 1.
    postgres_port: int = 27018
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    # Mailpit (local SMTP server and web inbox; not started when SMTP_HOST is set).
    mailpit_smtp_port: int = 1025
    mailpit_ui_port: int = 8025
    extra_env: dict[str, str] = field(default_factory=dict)
    # Processes per service (the gateway is always one); see the module docstring for ports.
    replicas: int = 1
    # Where clients send GraphQL when another gateway fronts the stack (the e2e suite's
    # federation-peer run, tests/support/federation_peer.py); None: our gateway.
    peer_gateway_url: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be 1..{MAX_REPLICAS}, not {self.replicas}")

    @classmethod
    def for_slot(
        cls,
        slot: int,
        var_dir: Path,
        extra_env: dict[str, str] | None = None,
        *,
        replicas: int = 1,
    ) -> StackConfig:
        """The test/bench stack of ``slot``: every port of the e2e stack shifted by 10·slot, so
        parallel runs (E2E_SLOT, BENCH_SLOT) never meet each other or `make run`."""
        shift = 10 * slot
        return cls(
            var_dir=var_dir,
            base_port=4100 + shift,
            mongo_port=27117 + shift,
            postgres_port=27118 + shift,
            kafka_port=9192 + shift,
            kafka_controller_port=9193 + shift,
            mailpit_smtp_port=1125 + shift,
            mailpit_ui_port=8125 + shift,
            extra_env=dict(extra_env or {}),
            replicas=replicas,
        )

    @property
    def mongodb_uri(self) -> str:
        return os.environ.get("MONGODB_URI") or f"mongodb://127.0.0.1:{self.mongo_port}/"

    @property
    def local_store(self) -> str:
        """FerretDB's backend when we start it: ``postgresql`` (default) or ``sqlite``."""
        return os.environ.get("CRM_LOCAL_STORE") or "postgresql"

    @property
    def postgres_dsn(self) -> str | None:
        """FerretDB's PostgreSQL database, when the stack runs FerretDB on PostgreSQL."""
        if os.environ.get("MONGODB_URI") or self.local_store != "postgresql":
            return None
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/ferretdb"

    @property
    def kafka_bootstrap(self) -> str:
        return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{self.kafka_port}"

    @property
    def gateway_url(self) -> str:
        return self.peer_gateway_url or f"http://127.0.0.1:{self.base_port}/graphql"

    @property
    def public_base_url(self) -> str:
        """Where the links the suite hands out point: the gateway (PUBLIC_BASE_URL overrides)."""
        return os.environ.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{self.base_port}"

    @property
    def smtp_external(self) -> bool:
        """SMTP_HOST set: the services send through that server, Mailpit is not started."""
        return bool(os.environ.get("SMTP_HOST"))

    @property
    def mailpit_url(self) -> str:
        """Mailpit's web inbox (its HTTP API is under /api/v1/)."""
        return f"http://127.0.0.1:{self.mailpit_ui_port}"

    def replica_indexes(self, component: Component) -> range:
        """The replicas ``component`` runs as: one gateway, `replicas` of every service."""
        return range(1 if component is GATEWAY else self.replicas)

    def port(self, component: Component, replica: int = 0) -> int:
        return self.base_port + component.port_offset + REPLICA_PORT_STEP * replica

    def service_url(self, component: Component, replica: int = 0) -> str:
        return f"http://127.0.0.1:{self.port(component, replica)}"

    def service_urls(self, component: Component) -> list[str]:
        """Every replica's base URL (no /graphql), replica 0 first."""
        return [self.service_url(component, r) for r in self.replica_indexes(component)]

    @staticmethod
    def instance_name(component: Component, replica: int = 0) -> str:
        """Names the pid and log files: ``customer`` for replica 0, ``customer.r1`` and on."""
        return component.name if replica == 0 else f"{component.name}.r{replica}"

    def pid_file(self, component: Component, replica: int = 0) -> Path:
        return self.run_dir / f"{self.instance_name(component, replica)}.pid"

    def replica_pid(self, component: Component, replica: int = 0) -> int | None:
        """The live pid of one replica (None when it is not running)."""
        return _read_pid(self.pid_file(component, replica))

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
            "POSTGRES_PORT": str(self.postgres_port),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "MAILPIT_SMTP_PORT": str(self.mailpit_smtp_port),
            "MAILPIT_UI_PORT": str(self.mailpit_ui_port),
            "SMTP_EXTERNAL": os.environ.get("SMTP_HOST", ""),
        }

    def component_env(self, component: Component, replica: int = 0) -> dict[str, str]:
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
            # What the store serves from an index: batches of ids go as point lookups to the
            # local FerretDB, as one $in to MongoDB (crm_common.mongo.ids_as_point_lookups).
            "MONGODB_STORE": os.environ.get(
                "MONGODB_STORE", "mongodb" if os.environ.get("MONGODB_URI") else "ferretdb"
            ),
            # Links in e-mails and API answers go through the gateway (crm_common.settings).
            "PUBLIC_BASE_URL": self.public_base_url,
            **self._smtp_env(),
            # Quoting looks up a quote's contact address at the customer subgraph.
            "CUSTOMER_GRAPHQL_URLS": ",".join(
                f"{url}/graphql" for url in self.service_urls(SERVICES[0])
            ),
            # Webhook endpoints on this machine (receivers on 127.0.0.1) are fine locally and
            # in the e2e stack; production refuses private networks (the default).
            "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": os.environ.get(
                "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"
            ),
            **self.extra_env,
        }
        if component is GATEWAY:
            env["GATEWAY_PORT"] = str(self.base_port)
            # name=url[,url...]: every replica of a subgraph (crm_gateway.settings).
            env["GATEWAY_SUBGRAPHS"] = ",".join(
                f"{s.name}=" + ",".join(f"{url}/graphql" for url in self.service_urls(s))
                for s in SERVICES
            )
        else:
            env["PORT"] = str(self.port(component, replica))
            env["CRM_REPLICA"] = str(replica)
        return env

    def _smtp_env(self) -> dict[str, str]:
        if self.smtp_external:
            return {}  # SMTP_HOST, SMTP_PORT, ... come from the environment as they are
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.mailpit_smtp_port),
            "SMTP_TLS": "none",
        }


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
    name = _REPLICA_SUFFIX.sub("", path.stem)
    module = {c.name: c.module for c in [*SERVICES, GATEWAY]}.get(name)
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


def ensure_store_indexes(config: StackConfig) -> None:
    """On FerretDB-on-PostgreSQL: the GIN indexes that serve FerretDB's pushed-down
    equalities, for every field of every index the services have just declared
    (scripts/store_indexes.py). Here rather than in the services: production runs MongoDB, and
    these indexes belong to the local store's set-up, like its plan_cache_mode."""
    dsn = config.postgres_dsn
    if dsn is None:
        return
    from store_indexes import ensure_gin_indexes

    created = ensure_gin_indexes(dsn)
    if created:
        _log(f"created {len(created)} GIN indexes on FerretDB's PostgreSQL")


def start_component(config: StackConfig, component: Component, replica: int | None = None) -> int:
    """Start ``replica`` of ``component`` (None: every replica of it); returns the pid of the
    replica started (replica 0's for None). A replica already running is left as it is."""
    if replica is None:
        pids = [start_component(config, component, r) for r in config.replica_indexes(component)]
        return pids[0]
    config.log_dir.mkdir(parents=True, exist_ok=True)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    pid_file = config.pid_file(component, replica)
    existing = _read_pid(pid_file)
    if existing:
        return existing
    name = config.instance_name(component, replica)
    port = config.port(component, replica)
    if _port_in_use(port):
        raise RuntimeError(
            f"port {port} for {name} is taken by another process "
            f"(a stack left running? `ss -ltnp | grep {port}`)"
        )
    log = (config.log_dir / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", component.module],
        env=config.component_env(component, replica),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=REPO,
    )
    pid_file.write_text(str(process.pid))
    return process.pid


def _replica_pid_files(config: StackConfig, component: Component) -> list[Path]:
    """Replica 0's pid file and every ``<name>.rN.pid`` present (also of a run with more
    replicas than ``config`` says: `make down` stops what `make up REPLICAS=3` started)."""
    found = [
        path
        for path in config.run_dir.glob(f"{component.name}.r*.pid")
        if _REPLICA_SUFFIX.sub("", path.stem) == component.name
    ]
    return [config.pid_file(component), *sorted(found)]


def stop_component(
    config: StackConfig,
    component: Component,
    sig: int = signal.SIGTERM,
    replica: int | None = None,
) -> None:
    """Stop ``replica`` of ``component`` (None: all of its replicas, in parallel)."""
    if replica is None:
        paths = _replica_pid_files(config, component)
    else:
        paths = [config.pid_file(component, replica)]
    pids = {path: _read_pid(path) for path in paths}
    for pid in pids.values():
        if pid:
            os.kill(pid, sig)
    deadline = time.monotonic() + 15
    for path, pid in pids.items():
        if pid:
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                reap_deadline = time.monotonic() + 5
                while _pid_alive(pid) and time.monotonic() < reap_deadline:  # reaps our child
                    time.sleep(0.05)
        path.unlink(missing_ok=True)


def kill_replica(config: StackConfig, component: Component, replica: int) -> int:
    """SIGKILL one replica (no shutdown at all, as a crashed pod); returns the pid it had.

    The fault drill's "kill replica 1 of customer during a burst": ``kill_replica(config,
    customer, 1)``, later `restart_replica`. Other replicas keep running.
    """
    pid = config.replica_pid(component, replica)
    if pid is None:
        raise RuntimeError(f"{config.instance_name(component, replica)} is not running")
    stop_component(config, component, signal.SIGKILL, replica=replica)
    return pid


def restart_replica(
    config: StackConfig, component: Component, replica: int, timeout_s: float = 90
) -> int:
    """Start one replica again (its own port, log and pid file) and wait until it is ready."""
    pid = start_component(config, component, replica)
    wait_ready(
        f"{config.service_url(component, replica)}/readyz",
        timeout_s,
        config.instance_name(component, replica),
        config,
    )
    return pid


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
        for replica in config.replica_indexes(component):
            wait_ready(
                f"{config.service_url(component, replica)}/readyz",
                90,
                config.instance_name(component, replica),
                config,
            )
    ensure_store_indexes(config)
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
  Subgraphs: {", ".join(f"{c.name} {config.service_url(c)}/graphql" for c in SERVICES)}{
            ""
            if config.replicas == 1
            else f"  (×{config.replicas}: replica r on port + {REPLICA_PORT_STEP}·r)"
        }
  MongoDB (FerretDB): {config.mongodb_uri}   Kafka: {config.kafka_bootstrap}
  {
            f"E-mail: SMTP {os.environ.get('SMTP_HOST')} (SMTP_HOST)"
            if config.smtp_external
            else f"Mailpit inbox (every e-mail the suite sends): {config.mailpit_url}/"
            f"   SMTP 127.0.0.1:{config.mailpit_smtp_port}"
        }
  Logs: {config.log_dir}/

  Get a token:  make token TENANT=acme ROLE=admin
""",
        flush=True,
    )


def status(config: StackConfig) -> None:
    """One line per process: every replica found (pid files), with its port."""
    for component in [*SERVICES, GATEWAY]:
        for path in _replica_pid_files(config, component):
            name = path.stem
            match = re.search(r"\.r(\d+)$", name)
            port = config.port(component, int(match.group(1)) if match else 0)
            pid = _read_pid(path)
            state = f"running pid {pid}" if pid else "stopped"
            print(f"{name:16} {state:20} http://127.0.0.1:{port}/graphql")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["run", "up", "down", "status"])
    parser.add_argument(
        "--seed", action="store_true", help="run/up: fill the demo tenant once the stack is up"
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=int(os.environ.get("REPLICAS") or 1),
        help=f"run/up: processes per service, 1..{MAX_REPLICAS} (replica r on port + "
        f"{REPLICA_PORT_STEP}·r)",
    )
    args = parser.parse_args()
    config = StackConfig(replicas=args.replicas)
    if args.action == "down":
        down(config)
        return
    if args.action == "status":
        status(config)
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
            for replica in config.replica_indexes(component):
                if config.replica_pid(component, replica) is None:
                    name = config.instance_name(component, replica)
                    _log(f"{name} exited; see {config.log_dir}/{name}.log")
                    stop["now"] = True
    _log("stopping")
    down(config)


if __name__ == "__main__":
    main()
