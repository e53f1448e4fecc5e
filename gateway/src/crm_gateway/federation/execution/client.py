"""HTTP calls to subgraphs over one shared, pooled `aiohttp.ClientSession`.

Transport problems become `SubgraphFailure` with a client-safe message; the details go to the
log only. ``traceparent`` is added by the OpenTelemetry aiohttp-client instrumentation.

Queries are retried after connection errors (bounded, with a small backoff); mutations never,
since the subgraph may have applied them. A per-subgraph circuit breaker opens after
consecutive failures and then fails fast until its open period has passed; the next failure
after that re-opens it at once (half-open), a success closes it.

A subgraph with several replicas (`balancer.ReplicaSet`) gets each request sent to
the next healthy replica. A connection failure ejects that replica and the request moves on to
another one at once — a query always, a mutation only when its connection was refused (it never
reached the replica) — before the retries with backoff above start. The breaker stays per
subgraph and counts only failures after which no replica is healthy: a mutation cut off by the
death of one replica fails alone, without opening the circuit for the replicas still serving.

Identical query fetches in flight at the same moment (same URL, body and forwarded headers,
so the same caller identity) share one HTTP request (``dedup_inflight``, as Hive Gateway and
Apollo Router do): each caller parses its own copy of the answer, since the executor merges
into it. Nothing is kept once the request has finished — this is not a cache. Mutations are
never shared.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from crm_gateway.federation.execution.balancer import Replica, ReplicaSet
from crm_gateway.federation.execution.context import FORWARDED_HEADERS
from crm_gateway.metrics import SUBGRAPH_FAILOVERS, SUBGRAPH_FETCHES, SUBGRAPH_LATENCY

log = logging.getLogger(__name__)

UNAVAILABLE = "SUBGRAPH_UNAVAILABLE"


class SubgraphFailure(Exception):
    """A subgraph request produced no usable GraphQL response."""

    def __init__(self, message: str, code: str = UNAVAILABLE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _ConnectionFailure(Exception):
    """The connection failed before a response arrived: safe to retry a query.

    ``refused``: the connection was never established (refused, unreachable), so the request
    never reached the subgraph — safe to send even a mutation to another replica.
    """

    def __init__(self, *, refused: bool) -> None:
        super().__init__()
        self.refused = refused


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
        dedup_inflight: bool = False,
        replicas: Mapping[str, ReplicaSet] | None = None,
        connect_timeout_s: float = 3.0,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        # With replicas a connect that hangs (a dead pod's address) fails over after this.
        self._replica_timeout = aiohttp.ClientTimeout(
            total=timeout_s, sock_connect=min(connect_timeout_s, timeout_s)
        )
        self._replicas: Mapping[str, ReplicaSet] = replicas or {}
        self._retries = retries
        self._backoff_s = backoff_s
        self._breaker_threshold = breaker_threshold
        self._breaker_open_s = breaker_open_s
        self._breakers: dict[str, _Breaker] = {}
        self._clock = clock
        self._dedup = dedup_inflight
        self._inflight: dict[tuple[Any, ...], asyncio.Task[tuple[int, bytes]]] = {}

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
            SUBGRAPH_FETCHES.labels(subgraph, "circuit_open").inc()
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable (circuit open)")
        started = time.perf_counter()
        replicas = self._replicas.get(subgraph)
        try:
            if replicas is None:
                body = await self._attempts(
                    subgraph,
                    url,
                    query,
                    variables,
                    authorization,
                    self._retries if retry else 0,
                    shareable=retry and self._dedup,
                )
            else:
                body = await self._balanced(
                    replicas, subgraph, query, variables, authorization, retry=retry
                )
        except SubgraphFailure:
            SUBGRAPH_LATENCY.labels(subgraph).observe(time.perf_counter() - started)
            SUBGRAPH_FETCHES.labels(subgraph, "failure").inc()
            if replicas is not None and replicas.healthy:
                # One replica died under this request (a mutation cannot be resent), but the
                # subgraph still has healthy replicas: failing fast for all would turn one lost
                # pod into seconds of refused requests.
                raise
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
        SUBGRAPH_LATENCY.labels(subgraph).observe(time.perf_counter() - started)
        SUBGRAPH_FETCHES.labels(subgraph, "success").inc()
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
        *,
        shareable: bool,
    ) -> dict[str, Any]:
        for attempt in range(retries + 1):
            try:
                return await self._once(subgraph, url, query, variables, authorization, shareable)
            except _ConnectionFailure as exc:
                if attempt == retries:
                    raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable") from exc
                log.info("retrying subgraph %s after: %s", subgraph, exc.__cause__)
                await asyncio.sleep(self._backoff_s * (2**attempt))
        raise AssertionError("unreachable")

    async def _balanced(
        self,
        replicas: ReplicaSet,
        subgraph: str,
        query: str,
        variables: dict[str, Any],
        authorization: str | None,
        *,
        retry: bool,
    ) -> dict[str, Any]:
        """Send to the next healthy replica; after a connection failure eject it and move on
        to one not tried yet (queries; mutations only if refused), then retry with backoff."""
        tried: list[Replica] = []
        retries_left = self._retries if retry else 0
        attempt = 0
        shareable = retry and self._dedup
        while True:
            replica = replicas.pick(tried)
            try:
                return await self._once(
                    subgraph,
                    replica.url,
                    query,
                    variables,
                    authorization,
                    shareable,
                    self._replica_timeout,
                )
            except _ConnectionFailure as exc:
                replicas.eject(replica, repr(exc.__cause__))
                if not (retry or exc.refused):  # a mutation that may have reached it
                    raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable") from exc
                if replica not in tried:
                    tried.append(replica)
                if len(tried) < len(replicas.replicas):
                    SUBGRAPH_FAILOVERS.labels(subgraph).inc()
                    log.info("subgraph %s: trying another replica after: %s", subgraph, exc)
                    continue
                if retries_left == 0:
                    raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable") from exc
                retries_left -= 1
                tried.clear()
                await asyncio.sleep(self._backoff_s * (2**attempt))
                attempt += 1

    async def _once(
        self,
        subgraph: str,
        url: str,
        query: str,
        variables: dict[str, Any],
        authorization: str | None,
        shareable: bool,
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> dict[str, Any]:
        # The allow-listed client headers of this request (crm_gateway.edge.headers).
        headers = {**FORWARDED_HEADERS.get({})}
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        if authorization:
            headers["Authorization"] = authorization
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        data = orjson.dumps(payload)
        timeout = client_timeout or self._timeout
        try:
            if shareable:
                status, raw = await self._shared_post(url, data, headers, timeout)
            else:
                status, raw = await self._post(url, data, headers, timeout)
        except aiohttp.ConnectionTimeoutError as exc:  # connect only (replica sets set it)
            log.warning("subgraph %s: connect to %s timed out", subgraph, url)
            raise _ConnectionFailure(refused=False) from exc
        except TimeoutError as exc:
            log.warning("subgraph %s timed out", subgraph)
            raise SubgraphFailure(f"Subgraph '{subgraph}' did not answer in time") from exc
        except aiohttp.ClientConnectorError as exc:  # no connection: the request never left
            log.warning("subgraph %s unreachable: %s", subgraph, exc)
            raise _ConnectionFailure(refused=True) from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            log.warning("subgraph %s unreachable: %s", subgraph, exc)
            raise _ConnectionFailure(refused=False) from exc
        except aiohttp.ClientError as exc:
            log.warning("subgraph %s request failed: %s", subgraph, exc)
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable") from exc
        try:
            body = orjson.loads(raw)  # each caller its own copy, also of a shared answer
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            log.warning("subgraph %s answered HTTP %s without a GraphQL body", subgraph, status)
            raise SubgraphFailure(f"Subgraph '{subgraph}' is unavailable")
        return body

    async def _post(
        self, url: str, data: bytes, headers: dict[str, str], client_timeout: aiohttp.ClientTimeout
    ) -> tuple[int, bytes]:
        async with self._session.post(
            url, data=data, headers=headers, timeout=client_timeout
        ) as response:
            return response.status, await response.read()

    async def _shared_post(
        self, url: str, data: bytes, headers: dict[str, str], client_timeout: aiohttp.ClientTimeout
    ) -> tuple[int, bytes]:
        """Join an identical request already in flight, or start one others may join.

        The key holds the replica's URL: a joiner's connection failure is then the failure of
        the replica it picked (and ejects), never another one's."""
        key = (url, data, tuple(sorted(headers.items())))
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._post(url, data, headers, client_timeout))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        # shield: one caller's timeout or cancellation must not cancel the others' request.
        return await asyncio.shield(task)

    def _forget(self, key: tuple[Any, ...], task: asyncio.Task[tuple[int, bytes]]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so a failure nobody awaited is not logged
