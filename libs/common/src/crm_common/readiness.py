"""Readiness of the database, asked over a connection of its own.

`/readyz` used to ping MongoDB over the service's one connection (FerretDB: one connection per
process, `crm_common.mongo.create_client`) with a 2 s limit, so a pod busy with a long query or
an event batch answered ``{"mongodb": false}`` and was taken out of its Service (and out of the
gateway's balancing) exactly when it was working hardest.

`MongoReadiness` pings over a client of its own (created once, ``maxPoolSize=1``), so the ping
never queues behind the service's work, with a generous limit (``timeout_s``, default 10 s, for
server selection, connect and the reply). It reports not ready only when a ping *failed*: a
closed or refused connection fails at once (a killed database is seen by the next probe),
an unreachable one after ``timeout_s``. A probe answers within ``answer_within_s``: while a
ping is still under way past that, the last completed result stands (a slow reply is not an
unreachable database). Concurrent probes share one ping.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo import AsyncMongoClient

log = logging.getLogger(__name__)


class MongoReadiness:
    def __init__(
        self,
        uri: str,
        app_name: str,
        *,
        timeout_s: float = 10.0,
        answer_within_s: float = 2.0,
    ) -> None:
        timeout_ms = int(timeout_s * 1000)
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri,
            appname=app_name,
            maxPoolSize=1,
            minPoolSize=0,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
        )
        self._answer_within_s = answer_within_s
        self._ping: asyncio.Task[bool] | None = None
        self._last: bool | None = None  # the last completed ping's result

    async def check(self) -> bool:
        """True unless the database is unreachable (see the module docstring)."""
        if self._ping is None or self._ping.done():
            self._ping = asyncio.create_task(self._run_ping(), name="mongo-readiness-ping")
        try:
            # shield: a probe that stops waiting leaves the ping running for the next probe.
            return await asyncio.wait_for(asyncio.shield(self._ping), self._answer_within_s)
        except TimeoutError:
            return self._last is True

    async def _run_ping(self) -> bool:
        try:
            await self._client.admin.command("ping")
            result = True
        except Exception as exc:  # any failure of the ping: unreachable for this probe
            if self._last is not False:
                log.warning("database not reachable for readiness", extra={"error": repr(exc)})
            result = False
        self._last = result
        return result

    async def close(self) -> None:
        if self._ping is not None and not self._ping.done():
            self._ping.cancel()
            await asyncio.gather(self._ping, return_exceptions=True)
        await self._client.close()
