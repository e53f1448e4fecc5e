"""helm against the local control plane: run it, render, make restricted namespaces, time."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from kube_local import Cluster

from tests.helm.chart import CHART, REPO, helm_binary, values_path

Manifest = dict[str, Any]
TIMINGS_FILE = REPO / "var" / "kube" / "helm-e2e-timings.json"
#: Pod Security Standards for every namespace the tests install into: pods that are not
#: `restricted` are refused (enforce), and workload objects get warnings (warn), which the
#: tests treat as failures.
RESTRICTED = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
}


def helm(cluster: Cluster, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the project's helm against ``cluster``; raise with its output when it fails."""
    home = cluster.directory / "helm-home"
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run(
        [helm_binary(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def values_args(values: str) -> list[str]:
    return [] if values == "default" else ["-f", str(values_path(values))]


def render(cluster: Cluster, values: str, namespace: str) -> list[Manifest]:
    """`helm template` of the chart for the server's version (hooks and tests included)."""
    out = helm(
        cluster,
        "template",
        "crm",
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        cluster_version(cluster),
        *values_args(values),
    ).stdout
    return [m for m in yaml.safe_load_all(out) if m]


def cluster_version(cluster: Cluster) -> str:
    response = cluster.client.get("/version")
    response.raise_for_status()
    return str(response.json()["gitVersion"])


def create_namespace(cluster: Cluster, name: str) -> None:
    """A namespace enforcing ``restricted``, with its ``default`` ServiceAccount (which the
    controller-manager makes; an apiserver-only cluster has none, and pods need it)."""
    cluster.create(
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}},
    )
    response = cluster.client.post(
        f"/api/v1/namespaces/{name}/serviceaccounts",
        json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
    )
    assert response.status_code in (201, 409), response.text


def release_status(cluster: Cluster, namespace: str, release: str = "crm") -> dict[str, Any]:
    out = helm(cluster, "status", release, "-n", namespace, "-o", "json").stdout
    status: dict[str, Any] = json.loads(out)
    return status


def history(cluster: Cluster, namespace: str, release: str = "crm") -> list[dict[str, Any]]:
    out = helm(cluster, "history", release, "-n", namespace, "-o", "json").stdout
    entries: list[dict[str, Any]] = json.loads(out)
    return entries


class Timings:
    """Wall-clock seconds of each helm step, merged into var/kube/helm-e2e-timings.json."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        yield
        self.steps[name] = round(time.monotonic() - start, 1)
        print(f"[helm-e2e] {name}: {self.steps[name]} s", flush=True)
        self.save()

    def save(self) -> None:
        TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
        previous: dict[str, float] = {}
        if TIMINGS_FILE.exists():
            previous = json.loads(TIMINGS_FILE.read_text())
        TIMINGS_FILE.write_text(json.dumps({**previous, **self.steps}, indent=2) + "\n")
