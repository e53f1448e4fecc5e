"""Readiness when the database dies: every replica of every service reports not ready, and
ready again once the database is back (the same processes, none restarted).

The busy case (a service's one connection occupied, still ready) is in
libs/common/tests/test_readiness.py.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
import stack

from tests.e2e.client import eventually

pytestmark = [pytest.mark.e2e]

RECOVERY_BOUND_S = 120


async def _readyz(config: stack.StackConfig) -> dict[str, int]:
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for component in stack.SERVICES:
            for replica in config.replica_indexes(component):
                url = f"{config.service_url(component, replica)}/readyz"
                name = config.instance_name(component, replica)
                try:
                    statuses[name] = (await http.get(url)).status_code
                except httpx.HTTPError:
                    statuses[name] = 0
    return statuses


async def test_dead_database_is_not_ready_and_ready_again(live_stack: stack.StackConfig) -> None:
    assert set((await _readyz(live_stack)).values()) == {200}
    ferretdb = int((live_stack.run_dir / "ferretdb.pid").read_text())
    os.kill(ferretdb, signal.SIGKILL)
    try:

        async def none_ready() -> dict[str, int] | None:
            statuses = await _readyz(live_stack)
            return statuses if set(statuses.values()) == {503} else None

        await eventually(none_ready, timeout_s=RECOVERY_BOUND_S, interval_s=0.5)
    finally:
        await asyncio.to_thread(stack.infra, live_stack, "up")

    async def all_ready() -> bool:
        return set((await _readyz(live_stack)).values()) == {200}

    await eventually(all_ready, timeout_s=RECOVERY_BOUND_S, interval_s=1.0)
