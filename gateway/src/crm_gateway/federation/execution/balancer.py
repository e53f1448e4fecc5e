"""Several replicas behind one subgraph: round robin over the healthy ones.

A subgraph named with several URLs in ``GATEWAY_SUBGRAPHS`` (``customer=url1,url2``) gets a
`ReplicaSet`. Rules:

- **Pick**: round robin over the replicas currently healthy (one list index per request, no
  locks, no per-request bookkeeping). When none is healthy, round robin over all of them: an
  answer from a replica whose ``/readyz`` says "not ready" (e.g. Kafka down, which makes every
  replica not ready at once) beats no answer, and the circuit breaker of
  `crm_gateway.federation.execution.client` still stops a subgraph that is really gone.
- **Passive ejection**: a request that could not connect (refused, reset, connect timeout)
  ejects that replica at once; the client (`client.py`) then tries another replica (queries
  always; mutations only when the connection was refused, i.e. the request never reached it).
- **Active probe**: one background task per set GETs every replica's ``/readyz`` (the URL with
  ``/graphql`` replaced) — healthy ones every ``interval_s``, ejected ones with exponential
  backoff from ``min_backoff_s`` to ``max_backoff_s``. A 5xx, a connection error or a timeout
  ejects; a 2xx–4xx answer (a 404: a subgraph without ``/readyz``) restores.

A set of one replica is never built: a single URL takes the plain path (no probe at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import aiohttp
from yarl import URL

from crm_gateway.metrics import SUBGRAPH_REPLICAS_HEALTHY

log = logging.getLogger(__name__)


def readyz_url(graphql_url: str) -> str:
    """``http://host:port/graphql`` → ``http://host:port/readyz`` (any path → /readyz)."""
    url = URL(graphql_url)
    path = url.path.removesuffix("/").removesuffix("/graphql") + "/readyz"
    return str(url.with_path(path).with_query(None))


@dataclass(slots=True, eq=False)
class Replica:
    url: str
    readyz: str
    healthy: bool = True
    probe_failures: int = 0
    next_probe: float = 0.0


class ReplicaSet:
    """The replicas of one subgraph and which of them are healthy."""

    def __init__(
        self,
        subgraph: str,
        urls: Sequence[str],
        *,
        interval_s: float = 2.0,
        min_backoff_s: float = 0.25,
        max_backoff_s: float = 5.0,
        probe_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if len(urls) < 2:
            raise ValueError("a replica set needs at least two URLs")
        self.subgraph = subgraph
        self.replicas = tuple(Replica(url, readyz_url(url)) for url in urls)
        self._healthy: tuple[Replica, ...] = self.replicas
        self._next = 0
        self._interval_s = interval_s
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._probe_timeout = aiohttp.ClientTimeout(total=probe_timeout_s)
        self._clock = clock
        self._wake = asyncio.Event()
        SUBGRAPH_REPLICAS_HEALTHY.labels(subgraph).set(len(self.replicas))

    @property
    def healthy(self) -> tuple[Replica, ...]:
        return self._healthy

    def pick(self, tried: Iterable[Replica] = ()) -> Replica:
        """The next replica: healthy ones in turn; ``tried`` (this request's failed ones) last."""
        healthy = self._healthy
        i = self._next
        self._next = i + 1
        if not tried:
            pool = healthy or self.replicas
            return pool[i % len(pool)]
        seen = set(tried)
        for pool in (healthy, self.replicas):
            fresh = [r for r in pool if r not in seen]
            if fresh:
                return fresh[i % len(fresh)]
        pool = healthy or self.replicas
        return pool[i % len(pool)]

    def eject(self, replica: Replica, reason: str) -> None:
        """Take ``replica`` out of rotation until a probe finds it ready again."""
        if not replica.healthy:
            return
        replica.healthy = False
        replica.probe_failures = 0
        replica.next_probe = self._clock() + self._min_backoff_s
        self._rebuild()
        log.warning(
            "subgraph %s replica %s ejected: %s (%d of %d healthy)",
            self.subgraph,
            replica.url,
            reason,
            len(self._healthy),
            len(self.replicas),
        )
        self._wake.set()

    def restore(self, replica: Replica) -> None:
        replica.probe_failures = 0
        replica.next_probe = self._clock() + self._interval_s
        if replica.healthy:
            return
        replica.healthy = True
        self._rebuild()
        log.info(
            "subgraph %s replica %s is back (%d of %d healthy)",
            self.subgraph,
            replica.url,
            len(self._healthy),
            len(self.replicas),
        )

    def _rebuild(self) -> None:
        self._healthy = tuple(r for r in self.replicas if r.healthy)
        SUBGRAPH_REPLICAS_HEALTHY.labels(self.subgraph).set(len(self._healthy))

    def _probe_failed(self, replica: Replica, reason: str) -> None:
        if replica.healthy:
            self.eject(replica, reason)
            return
        replica.probe_failures += 1
        backoff = min(self._min_backoff_s * 2**replica.probe_failures, self._max_backoff_s)
        replica.next_probe = self._clock() + backoff

    async def probe(self, session: aiohttp.ClientSession, replica: Replica) -> None:
        """One ``/readyz`` round trip; ejects or restores ``replica``."""
        try:
            async with session.get(replica.readyz, timeout=self._probe_timeout) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._probe_failed(replica, f"readiness probe: {type(exc).__name__}")
            return
        if status >= 500:
            self._probe_failed(replica, f"readiness probe: HTTP {status}")
        else:
            self.restore(replica)

    async def run_probes(self, session: aiohttp.ClientSession) -> None:
        """Probe every replica when it is due, forever (cancel to stop)."""
        now = self._clock()
        for replica in self.replicas:
            replica.next_probe = now + self._interval_s
        while True:
            now = self._clock()
            due = [r for r in self.replicas if r.next_probe <= now]
            if due:
                for replica in due:  # set before the await: no second probe of it meanwhile
                    replica.next_probe = now + self._interval_s
                await asyncio.gather(*(self.probe(session, r) for r in due))
                continue
            self._wake.clear()
            wait_s = max(0.0, min(r.next_probe for r in self.replicas) - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)


def replica_sets(urls: dict[str, list[str]], *, interval_s: float = 2.0) -> dict[str, ReplicaSet]:
    """A `ReplicaSet` for every subgraph with more than one URL."""
    return {
        name: ReplicaSet(name, replicas, interval_s=interval_s)
        for name, replicas in urls.items()
        if len(replicas) > 1
    }
