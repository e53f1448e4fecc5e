"""HTTP calls to subgraphs over one shared, pooled `aiohttp.ClientSession`.

Transport problems become `SubgraphFailure` with a client-safe message; the details go to the
log only. ``traceparent`` is added by the OpenTelemetry aiohttp-client instrumentation.

Queries are retried after connection errors (bounded, with a small backoff); mutations never,
since the subgraph may have applied them. A per-subgraph circuit breaker opens after
consecutive failures and then fails fast until its open period has passed; the next failure
after that re-opens it at once (half-open), a success closes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

UNAVAILABLE = "SUBGRAPH_UNAVAILABLE"


class SubgraphFailure(Exception):
    """A subgraph request produced no usable GraphQL response."""

    def __init__(self, message: str, code: str = UNAVAILABLE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _ConnectionFailure(Exception):
    """The connection failed before a response arrived: safe to retry a query."""


@dataclass(slots=True)
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


class SubgraphClient:
    """Posts GraphQL requests to subgraphs, forwarding the caller's Authorization header."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        timeout_s: float,
        *,
        retries: int = 0,
        backoff_s: float = 0.05,
        breaker_threshold: int | None = None,
        breaker_open_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retries = retries
        self._backoff_s = backoff_s
        self._breaker_threshold = breaker_threshold
        self._breaker_open_s = breaker_open_s
        self._breakers: dict[str, _Breaker] = {}
        self._clock = clock

    async def request(
        self,
        subgraph: str,
        url: str,
        query: str,
        variables: dict[str, Any],
        authorization: str | None,
        *,
        retry: bool = False,
    ) -> dict[str, Any]:
        """One GraphQL call; ``retry`` only for operations safe to repeat (queries)."""
        breaker = self._breakers.setdefault(subgraph, _Breaker())
        if breaker.open_until > self._clock():
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable (circuit open)")
        try:
            body = await self._attempts(
                subgraph, url, query, variables, authorization, self._retries if retry else 0
            )
        except SubgraphFailure:
            breaker.failures += 1
            if self._breaker_threshold is not None and breaker.failures >= self._breaker_threshold:
                if breaker.open_until <= self._clock():
                    log.warning(
                        "circuit for subgraph %s opened for %ss after %d failures",
                        subgraph,
                        self._breaker_open_s,
                        breaker.failures,
                    )
                breaker.open_until = self._clock() + self._breaker_open_s
            raise
        breaker.failures = 0
        breaker.open_until = 0.0
        return body

    async def _attempts(
        self,
        subgraph: str,
        url: str,
        query: str,
        variables: dict[str, Any],
        authorization: str | None,
        retries: int,
    ) -> dict[str, Any]:
        for attempt in range(retries + 1):
            try:
                return await self._once(subgraph, url, query, variables, authorization)
            except _ConnectionFailure as exc:
                if attempt == retries:
                    raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable") from exc
                log.info("retrying subgraph %s after: %s", subgraph, exc.__cause__)
                await asyncio.sleep(self._backoff_s * (2**attempt))
        raise AssertionError("unreachable")

    async def _once(
        self,
        subgraph: str,
        url: str,
        query: str,
        variables: dict[str, Any],
        authorization: str | None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        try:
            async with self._session.post(
                url, data=orjson.dumps(payload), headers=headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            log.warning("subgraph %s timed out", subgraph)
            raise SubgraphFailure(f"Subgraph '{subgraph}' did not answer in time") from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            log.warning("subgraph %s unreachable: %s", subgraph, exc)
            raise _ConnectionFailure() from exc
        except aiohttp.ClientError as exc:
            log.warning("subgraph %s request failed: %s", subgraph, exc)
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable") from exc
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            log.warning("subgraph %s answered HTTP %s without a GraphQL body", subgraph, status)
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable")
        return body
