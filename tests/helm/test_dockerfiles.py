"""The images the chart runs: one Dockerfile per workload, built the same hardened way.

No Docker engine here, so the Dockerfiles are checked as text against the chart (ports,
module names) and the conventions the chart relies on (non-root, read-only friendly).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helm.chart import REPO, WORKLOADS, config_of, render


def _dockerfile(workload: str) -> Path:
    return REPO / ("gateway" if workload == "gateway" else f"services/{workload}") / "Dockerfile"


def _stages(text: str) -> list[str]:
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]


@pytest.mark.parametrize("workload", WORKLOADS)
def test_dockerfile_is_multi_stage_uv_locked_non_root_with_healthcheck(workload: str) -> None:
    text = _dockerfile(workload).read_text()
    package = f"crm-{workload}"
    module = "crm_" + workload.replace("-", "_")
    assert f"uv sync --frozen --no-dev --no-editable --package {package}" in text
    runtime = _stages(text)[-1]
    assert len(_stages(text)) >= 3  # uv, build, runtime
    assert "uv" not in re.findall(r"COPY --from=(\S+)", runtime)
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    user = re.findall(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert "HEALTHCHECK" in runtime and "/healthz" in runtime and "urllib" in runtime
    assert f'CMD ["python", "-m", "{module}.main"]' in runtime
    assert "CRM_VAR_DIR=/tmp/" in runtime  # the only writable place under a read-only root


@pytest.mark.parametrize("workload", WORKLOADS)
def test_dockerfile_port_matches_the_chart(workload: str) -> None:
    text = _dockerfile(workload).read_text()
    config = config_of(render(), workload)
    port = config["GATEWAY_PORT" if workload == "gateway" else "PORT"]
    assert re.search(rf"^EXPOSE {port}$", text, flags=re.MULTILINE)


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**"  # deny everything, then allow what images need
    assert "!uv.lock" in lines
    assert not any(line.startswith("!var") or line.startswith("!.venv") for line in lines)
