"""Two "replicas" of a service against the real store, for the replica tests of libs and services.

Each replica is its own client with one connection, as each process of a service has on
FerretDB, over one throw-away database (dropped afterwards). A replica that dies is simulated
by raising `Crash` from inside the code under test.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import Document, create_client, ensure_indexes

ReplicaDatabases = tuple[AsyncDatabase[Document], AsyncDatabase[Document]]


class Crash(BaseException):
    """The process dying (not an `Exception`: nothing in the code under test can catch it)."""


@asynccontextmanager
async def replica_databases(
    mongodb_uri: str, prefix: str, indexes: Mapping[str, Sequence[IndexModel]] | None = None
) -> AsyncIterator[ReplicaDatabases]:
    """One fresh database seen through two single-connection clients (two replicas)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    clients = [create_client(mongodb_uri, f"{prefix}-{i}", max_pool_size=1) for i in (1, 2)]
    try:
        if indexes:
            await ensure_indexes(clients[0][name], dict(indexes))
        yield clients[0][name], clients[1][name]
    finally:
        await clients[0].drop_database(name)
        for client in clients:
            await client.close()


async def until(
    predicate: Callable[[], bool | Awaitable[bool]], timeout_s: float = 60, what: str = ""
) -> None:
    """Poll ``predicate`` (plain or async) until it holds; fail after a generous ``timeout_s``.

    The one polling helper of the tests: conditions are waited for, never slept on.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        outcome = predicate()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() > deadline:
            detail = f": {what}" if what else ""
            raise AssertionError(f"condition not met within {timeout_s}s{detail}")
        await asyncio.sleep(0.05)
