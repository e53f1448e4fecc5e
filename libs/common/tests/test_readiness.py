"""Readiness of the database over its own connection (crm_common.readiness), real FerretDB.

A busy service (its one connection occupied by a queue of queries) is still ready; a database
nobody answers for is not. Killing the real database of a running stack: tests/faults.
"""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
import stack

from crm_common.readiness import MongoReadiness
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings

pytestmark = [pytest.mark.e2e]


async def test_busy_database_connection_is_still_ready(infra: stack.StackConfig) -> None:
    settings = ServiceSettings(
        service_name=f"readiness-{uuid.uuid4().hex[:6]}",
        mongodb_uri=infra.mongodb_uri,
        mongodb_max_pool_size=1,  # as on the local stack: one connection per process
    )
    runtime = ServiceRuntime(settings)
    collection = runtime.db["rows"]
    try:
        await collection.insert_many([{"n": n, "pad": "x" * 200} for n in range(3000)])
        # Queue many full scans on the service's one connection, then ask for readiness
        # while they are still queued (asserted below, so the check really met a busy pool).
        scans = [
            asyncio.create_task(collection.find({}, sort=[("pad", -1)]).to_list())
            for _ in range(15)
        ]
        assert await runtime.mongo_ready() is True
        assert not all(scan.done() for scan in scans)
        await asyncio.gather(*scans)
        assert await runtime.mongo_ready() is True
    finally:
        await runtime.client.drop_database(settings.database_name)
        await runtime.cleanup()


async def test_unreachable_database_is_not_ready() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    readiness = MongoReadiness(
        f"mongodb://127.0.0.1:{port}/", "readiness-test", timeout_s=1.0, answer_within_s=2.0
    )
    try:
        assert await readiness.check() is False
        assert await readiness.check() is False
    finally:
        await readiness.close()


async def test_readiness_pings_share_one_connection(infra: stack.StackConfig) -> None:
    readiness = MongoReadiness(infra.mongodb_uri, "readiness-test")
    try:
        results = await asyncio.gather(*(readiness.check() for _ in range(20)))
        assert results == [True] * 20
    finally:
        await readiness.close()
