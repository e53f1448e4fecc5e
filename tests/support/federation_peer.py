"""Another gateway in front of the e2e stack: Hive Gateway (npm) over our supergraph.

`make test-federation-peer` runs the e2e tests marked ``federation_peer`` with
``E2E_GATEWAY=hive``: conftest.py starts the usual stack, then this Hive Gateway on the slot's
port base + 6, serving the repository's ``supergraph.graphql`` with the join__graph URLs
rewritten to the stack's subgraphs (replica 0 of each), and the tests' client talks to it
instead of crm_gateway. The subgraphs verify the caller's token themselves, so the gateway
must forward ``Authorization`` (and, as ours does, ``Accept-Language``, ``X-Request-Id`` and
the trace headers): that is configured with Hive Gateway's ``propagateHeaders``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from peers import hive_gateway_binary, wait_http

REPO = Path(__file__).resolve().parents[2]
PORT_OFFSET = 6  # inside the slot's range, unused by the stack
# The headers crm_gateway forwards by default (crm_gateway.settings, crm_gateway.headers).
FORWARDED = ("authorization", "accept-language", "x-request-id", "traceparent", "tracestate")

CONFIG = """// Written by tests/support/federation_peer.py: forward the caller's headers.
const forwarded = %s;
export const gatewayConfig = {
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const headers = {};
      for (const name of forwarded) {
        const value = request.headers.get(name);
        if (value) headers[name] = value;
      }
      return headers;
    },
  },
};
"""


def supergraph_for(subgraph_urls: dict[str, str]) -> str:
    """The repository's supergraph with each subgraph's URL replaced by ``subgraph_urls``."""
    text = (REPO / "supergraph.graphql").read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return f'@join__graph(name: "{name}", url: "{subgraph_urls[name]}")'

    return re.sub(r'@join__graph\(name: "([^"]+)", url: "[^"]*"\)', replace, text)


@dataclass
class PeerGateway:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_hive_gateway(
    work_dir: Path, port: int, subgraph_urls: dict[str, str], timeout_s: float = 120
) -> PeerGateway:
    work_dir.mkdir(parents=True, exist_ok=True)
    supergraph = work_dir / "supergraph.graphql"
    supergraph.write_text(supergraph_for(subgraph_urls), encoding="utf-8")
    forwarded = "[" + ", ".join(f'"{name}"' for name in FORWARDED) + "]"
    (work_dir / "gateway.config.mjs").write_text(CONFIG % forwarded, encoding="utf-8")
    log = open(work_dir / "hive-gateway.log", "wb")  # noqa: SIM115 - closed with the process
    command = [str(hive_gateway_binary()), "supergraph", str(supergraph)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command,
        cwd=work_dir,
        env={**os.environ, "NODE_ENV": "production"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    peer = PeerGateway(f"http://127.0.0.1:{port}/graphql", process)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthcheck", process, timeout_s, "Hive Gateway")
    except RuntimeError:
        peer.stop()
        raise RuntimeError(f"Hive Gateway not ready; see {work_dir / 'hive-gateway.log'}") from None
    return peer
