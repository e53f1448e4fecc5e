"""Peer programs the tests and benchmarks start beside ours: Hive Gateway from npm, and a
readiness wait for any HTTP process they launch."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HIVE_GATEWAY_VERSION = "2.15.1"
#: One install for `make test-federation-peer` and both gateway benchmarks.
HIVE_DIR = REPO / "var" / "bench-hive"


def hive_gateway_binary() -> Path:
    """``@graphql-hive/gateway`` from npm into var/bench-hive (once)."""
    binary = HIVE_DIR / "node_modules" / ".bin" / "hive-gateway"
    if not binary.exists():
        HIVE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(HIVE_DIR),
                f"@graphql-hive/gateway@{HIVE_GATEWAY_VERSION}",
            ],
            check=True,
        )
    return binary


def wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float, what: str) -> None:
    """Poll ``url`` until it answers 200 while ``process`` lives (generous bound)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready at {url} after {timeout_s}s")
        time.sleep(0.2)  # the poll interval of a bounded wait, not a fixed wait
