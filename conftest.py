"""Shared pytest fixtures: the real stack (FerretDB, Kafka, services, gateway) on test ports.

The e2e stack runs beside any developer stack: other ports (gateway 4100, subgraphs 4101-4105,
Mongo 27117, Kafka 9192/9193) and its own state directory (var/e2e), started once per test
session by the project's own scripts and stopped at the end. ``E2E_SLOT=n`` shifts every port
by 10*n and uses var/e2e-n, so several test runs can share a machine. ``MONGODB_URI`` and
``KAFKA_BOOTSTRAP_SERVERS`` point it at existing servers instead.

Every service runs as ``E2E_REPLICAS`` processes (default 2, the production shape: shared
database and consumer group, the gateway balancing over them); replica r listens on its port
+ 1000·r (scripts/stack.py). ``E2E_REPLICAS=1`` runs one process per service.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

import stack  # noqa: E402
from tests.support.recording import shapes_file  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: needs the real stack (database, broker, services)")
    config.addinivalue_line(
        "markers",
        "federation_peer: also passes through another gateway (Hive Gateway) over the same "
        "supergraph: `make test-federation-peer` (E2E_GATEWAY=hive)",
    )


@pytest.fixture(scope="session")
def e2e_config() -> stack.StackConfig:
    slot = int(os.environ.get("E2E_SLOT", "0"))
    var_dir = REPO / "var" / ("e2e" if slot == 0 else f"e2e-{slot}")
    # Every test session starts from empty databases and topics: results never depend on
    # what an earlier (perhaps aborted) run left behind.
    stack.infra(stack.StackConfig(var_dir=var_dir), "down")
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    trace_file = var_dir / "traces.jsonl"
    trace_file.unlink(missing_ok=True)
    return stack.StackConfig.for_slot(
        slot,
        var_dir,
        extra_env={
            "CRM_TRACE_FILE": str(trace_file),
            # Every query shape the services send (tests/e2e/test_zz_query_shapes.py).
            "CRM_QUERY_SHAPES_FILE": str(shapes_file(var_dir)),
            "LOG_LEVEL": "INFO",
            "OUTBOX_POLL_INTERVAL_S": "0.2",
            # Tenant settings (time zone, role permissions) cached 2 s instead of 30 s, so a
            # changed setting reaches every replica on a test's time scale.
            "TENANT_SETTINGS_CACHE_TTL_S": "2",
            # Tests check answers, not latency (benchmarks do): on a machine shared with other
            # stacks a burst of writes may wait longer than production's 30 s / 60 s budgets.
            "GATEWAY_SUBGRAPH_TIMEOUT_S": "120",
            "GATEWAY_REQUEST_TIMEOUT_S": "150",
            # E-mail (tests/e2e/test_email.py): retries and digests on a test's time scale.
            "EMAIL_SWEEP_INTERVAL_S": "1",
            "EMAIL_RETRY_BASE_S": "1",
            "EMAIL_RETRY_CAP_S": "4",
            "EMAIL_DIGEST_PERIOD_S": "10",
            "EMAIL_DIGEST_GRACE_S": "1",
            # Webhooks: a fast retry schedule (production: ≥ 24 h), receivers on 127.0.0.1.
            "WEBHOOKS_RETRY_BASE_S": "0.2",
            "WEBHOOKS_RETRY_MAX_DELAY_S": "1",
            "WEBHOOKS_RETRY_WINDOW_S": "60",
            "WEBHOOKS_SWEEP_INTERVAL_S": "2",
            "WEBHOOKS_PAUSED_RECHECK_S": "2",
            # Improvement tasks: a task written on the replica that does not hold the overdue
            # monitor's lease is seen at the holder's next sweep (production: 30 s).
            "TASK_OVERDUE_SCAN_INTERVAL_S": "2",
        },
        replicas=int(os.environ.get("E2E_REPLICAS", "2")),
    )


@pytest.fixture(scope="session")
def infra(e2e_config: stack.StackConfig) -> Iterator[stack.StackConfig]:
    """Only the database and the broker."""
    stack.infra(e2e_config, "up")
    try:
        stack.ensure_topics(e2e_config)
        yield e2e_config
    finally:
        stack.infra(e2e_config, "down")


@pytest.fixture(scope="session")
def live_stack(infra: stack.StackConfig) -> Iterator[stack.StackConfig]:
    """Database, broker, the five services and the gateway, all as real processes."""
    try:
        seconds = stack.up(infra, with_infra=False)
    except Exception:
        _dump_logs(infra)
        stack.down(infra, with_infra=False)
        raise
    print(f"\n[e2e] stack up in {seconds:.1f}s ({infra.replicas} per service)", flush=True)
    if os.environ.get("E2E_GATEWAY", "ours") != "hive":
        yield infra
        stack.down(infra, with_infra=False)
        return
    # The federation-peer run: Hive Gateway over the same supergraph fronts the stack.
    from tests.support.federation_peer import PORT_OFFSET, start_hive_gateway

    urls = {s.name: f"{infra.service_url(s)}/graphql" for s in stack.SERVICES}
    try:
        peer = start_hive_gateway(infra.var_dir / "hive-peer", infra.base_port + PORT_OFFSET, urls)
    except Exception:
        stack.down(infra, with_infra=False)
        raise
    print(f"[e2e] Hive Gateway fronts the stack at {peer.url}", flush=True)
    try:
        yield dataclasses.replace(infra, peer_gateway_url=peer.url)
    finally:
        peer.stop()
        stack.down(infra, with_infra=False)


def _dump_logs(config: stack.StackConfig) -> None:
    for log in sorted(config.log_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-30:]
        print(f"\n----- {log.name} -----\n" + "\n".join(tail), file=sys.stderr)
