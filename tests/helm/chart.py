"""Render the chart with the project's helm (scripts/helm.sh) and index the objects."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "crm"
SERVICES = ("customer", "engagement", "quoting", "service-desk", "insights")
WORKLOADS = ("gateway", *SERVICES)
# Every values file `make helm-check` renders; "default" means values.yaml alone.
VALUES_FILES = (
    "default",
    "values-prod.yaml",
    *sorted(p.name for p in (CHART / "ci").glob("*.yaml")),
)

Manifest = dict[str, Any]


@functools.cache
def helm_binary() -> str:
    """Path of the pinned helm, built on first use by scripts/helm.sh."""
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "helm.sh"), "--path"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def values_path(name: str) -> Path:
    return CHART / "ci" / name if (CHART / "ci" / name).exists() else CHART / name


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, check=False, timeout=60
    )


@dataclass(frozen=True)
class Rendered:
    """The objects of one `helm template` run."""

    manifests: tuple[Manifest, ...]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def get(self, kind: str, name: str) -> Manifest:
        matches = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def find(self, kind: str, name: str) -> Manifest | None:
        return next((m for m in self.of_kind(kind) if m["metadata"]["name"] == name), None)


def template(*values: str, sets: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run helm template (release `crm`, namespace `crm`); values are chart-relative files."""
    args = ["template", "crm", str(CHART), "--namespace", "crm"]
    for name in values:
        args += ["-f", str(values_path(name))]
    for assignment in sets:
        args += ["--set", assignment]
    return helm(*args)


@functools.cache
def render(values: str = "default", sets: tuple[str, ...] = ()) -> Rendered:
    result = template(*(() if values == "default" else (values,)), sets=sets)
    assert result.returncode == 0, result.stderr
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(tuple(docs))


def component(root: str, name: str) -> str:
    return f"{root}-{name}"


def config_of(rendered: Rendered, name: str) -> dict[str, str]:
    data: dict[str, str] = rendered.get("ConfigMap", f"crm-{name}")["data"]
    return data


def container_of(deployment: Manifest) -> Manifest:
    containers: list[Manifest] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]
