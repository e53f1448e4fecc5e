"""LiveFeed: every event of some topics, as it happens, for the subscriptions of one process.

A GraphQL subscriber is attached to exactly one replica (its WebSocket or SSE stream), so each
replica must see every event, not a share of them: the feed is a Kafka consumer WITHOUT a
group (``group_id=None``: every partition assigned, nothing committed), starting at the latest
offset (a subscription is about what happens from now on). Its fetches are long polls: the
broker answers one as soon as an event arrives, so ``fetch_max_wait_ms`` (how long it may hold
an empty one) sets the idle cost, not the latency (measured: docs/benchmarks.md).

Each subscription registers a listener: a predicate over the decoded `CloudEvent` and a
bounded queue. The feed hands every event to the listeners whose predicate accepts it,
without ever waiting: a listener whose queue is full is dropped with `SlowListener` (its
subscription ends with an error; the client re-subscribes and re-reads), so one stalled client
never delays the others. An event the outbox relay published twice (at-least-once, see
docs/architecture.md) carries the same id both times; the feed remembers the last ids it
dispatched and hands each one out once.

Nothing here is durable: a replica that restarts, or a client that reconnects, misses what
happened meanwhile and reads the current state through queries. The inbox (engagement) is the
durable record of notifications; the feed only makes them immediate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from prometheus_client import Counter, Gauge

from crm_common.errors import CrmError, ErrorCode, NotFound, Unauthenticated
from crm_common.events.envelope import CloudEvent, MalformedEvent

log = logging.getLogger(__name__)

Predicate = Callable[[CloudEvent], bool]
T = TypeVar("T")

LIVE_LISTENERS = Gauge(
    "crm_live_listeners", "Open live listeners (subscriptions) of this process", ["service"]
)
LIVE_EVENTS = Counter("crm_live_events_total", "Events the live feed read from Kafka", ["service"])
LIVE_DROPPED = Counter(
    "crm_live_dropped_listeners_total",
    "Listeners dropped because their queue was full (a client too slow to keep up)",
    ["service"],
)


class SlowListener(CrmError):
    """The listener fell more than its queue behind and was dropped (the client
    re-subscribes and re-reads what it shows)."""

    code = ErrorCode.SERVICE_UNAVAILABLE


class TooManyListeners(CrmError):
    """The process holds as many subscriptions as it may (``LIVE_MAX_LISTENERS``)."""

    code = ErrorCode.SERVICE_UNAVAILABLE


class FeedClosed(CrmError):
    """The feed stopped (the process is shutting down): subscribe again, elsewhere."""

    code = ErrorCode.SERVICE_UNAVAILABLE


class Listener:
    """One subscription's view of the feed: the events its predicate accepts, in order."""

    def __init__(self, feed: LiveFeed, predicate: Predicate, max_queued: int) -> None:
        self._feed = feed
        self.predicate = predicate
        self._queue: asyncio.Queue[CloudEvent | None] = asyncio.Queue(max_queued + 1)
        self._max = max_queued
        self.error: Exception | None = None

    def offer(self, event: CloudEvent) -> bool:
        """Queue ``event`` without waiting; False (and the listener failed) if it is full."""
        if self.error is not None:
            return False
        if self._queue.qsize() >= self._max:
            self.fail(SlowListener(f"more than {self._max} events behind; dropped"))
            return False
        self._queue.put_nowait(event)
        return True

    def fail(self, error: Exception) -> None:
        """End the listener: its next `get` raises ``error`` (after nothing else)."""
        if self.error is not None:
            return
        self.error = error
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)  # wakes a waiting `get`

    async def get(self, expires_at: float | None = None) -> CloudEvent:
        """The next event; `Unauthenticated` once ``expires_at`` (epoch seconds: the token's
        ``exp``) passes first, so a subscription never outlives its token."""
        if expires_at is None:
            event = await self._queue.get()
        else:
            remaining = expires_at - time.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                event = await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                raise Unauthenticated("the token expired; subscribe again with a new one") from None
        if event is None:
            assert self.error is not None
            self._queue.put_nowait(None)  # every later call raises too
            raise self.error
        return event

    def __aiter__(self) -> AsyncIterator[CloudEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[CloudEvent]:
        while True:
            yield await self.get()

    def close(self) -> None:
        self._feed.remove(self)


class RecentIds:
    """The last ``size`` event ids, to hand out an event published twice only once."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


class SharedReads:
    """One read per key while it is recent: the subscribers of one record who see it the same
    way (same principal) share the re-read an event causes, instead of one query each."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._tasks: OrderedDict[Hashable, asyncio.Future[Any]] = OrderedDict()

    async def once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(read())
            self._tasks[key] = task
            if len(self._tasks) > self._size:
                self._tasks.popitem(last=False)
        # One subscriber going away must not cancel the read the others wait for.
        result: T = await asyncio.shield(task)
        return result


class LiveFeed:
    """One group-less Kafka consumer per process, dispatching to in-process listeners."""

    def __init__(
        self,
        topics: Iterable[str],
        bootstrap_servers: str,
        *,
        service: str = "crm",
        max_queued: int = 100,
        fetch_max_wait_ms: int = 500,
        remember_ids: int = 10_000,
        max_listeners: int = 10_000,
    ) -> None:
        self._topics = list(topics)
        self._bootstrap = bootstrap_servers
        self._service = service
        self._max_queued = max_queued
        self._max_listeners = max_listeners
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._listeners: set[Listener] = set()
        self._recent = RecentIds(remember_ids)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._positioned = asyncio.Event()
        self.shared_reads = SharedReads()
        self.dispatched = 0

    # --- listeners (pure: no Kafka involved) --------------------------------------------------

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    def listen(self, predicate: Predicate, *, max_queued: int | None = None) -> Listener:
        """Register a listener; call ``close()`` (or use `subscription`) when done."""
        if self._stopping.is_set():
            raise FeedClosed("the live feed is stopping")
        if len(self._listeners) >= self._max_listeners:
            raise TooManyListeners(
                f"this replica holds {self._max_listeners} subscriptions already "
                "(LIVE_MAX_LISTENERS); try again later"
            )
        listener = Listener(self, predicate, max_queued or self._max_queued)
        self._listeners.add(listener)
        LIVE_LISTENERS.labels(self._service).set(len(self._listeners))
        return listener

    def remove(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        LIVE_LISTENERS.labels(self._service).set(len(self._listeners))

    @contextlib.asynccontextmanager
    async def subscription(
        self, predicate: Predicate, *, max_queued: int | None = None
    ) -> AsyncIterator[Listener]:
        listener = self.listen(predicate, max_queued=max_queued)
        try:
            yield listener
        finally:
            listener.close()

    def dispatch(self, event: CloudEvent) -> int:
        """Hand ``event`` to every listener that wants it; how many took it."""
        if not self._recent.first_time(event.id):
            return 0
        self.dispatched += 1
        taken = 0
        for listener in list(self._listeners):
            try:
                wanted = listener.predicate(event)
            except Exception:
                log.exception("live listener predicate failed", extra={"event_id": event.id})
                wanted = False
            if not wanted:
                continue
            if listener.offer(event):
                taken += 1
            else:
                LIVE_DROPPED.labels(self._service).inc()
                log.warning(
                    "slow live listener dropped",
                    extra={"service": self._service, "event_id": event.id},
                )
                self.remove(listener)
        return taken

    def dispatch_record(self, record: ConsumerRecord[bytes, bytes]) -> int:
        try:
            event = CloudEvent.from_record(record.key, record.value, list(record.headers or []))
        except MalformedEvent as exc:
            log.debug("live feed skipped a malformed record", extra={"error": str(exc)})
            return 0
        return self.dispatch(event)

    # --- Kafka --------------------------------------------------------------------------------

    @property
    def positioned(self) -> bool:
        """True once every partition has a position (events from then on are seen)."""
        return self._positioned.is_set()

    async def wait_positioned(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._positioned.wait(), timeout_s)
        return self._positioned.is_set()

    async def start(self, *_: Any) -> None:
        self._task = asyncio.create_task(self._run(), name=f"live-feed-{self._service}")

    async def stop(self, *_: Any) -> None:
        self._stopping.set()
        for listener in list(self._listeners):
            listener.fail(FeedClosed("the service is shutting down"))
        self._listeners.clear()
        LIVE_LISTENERS.labels(self._service).set(0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close()

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        self._positioned.clear()
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _connect(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=None,  # every replica reads every partition; nothing is committed
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            isolation_level="read_committed",
        )
        try:
            await consumer.start()
            # Resolve the starting offsets now, so `positioned` means "sees what follows".
            for _ in range(100):
                if consumer.assignment():
                    break
                await asyncio.sleep(0.05)
            for tp in consumer.assignment():
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._positioned.set()
        log.info(
            "live feed positioned",
            extra={"service": self._service, "partitions": len(consumer.assignment())},
        )
        return consumer

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                consumer = self._consumer or await self._connect()
                polled = await consumer.getmany(timeout_ms=500, max_records=500)
                for records in polled.values():
                    for record in records:
                        LIVE_EVENTS.labels(self._service).inc()
                        self.dispatch_record(record)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "live feed failed; reconnecting",
                    extra={"service": self._service, "error": repr(exc)},
                )
                await self._close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 5.0)


def record_events(tenant_id: str, type_prefix: str, id_field: str, record_id: str) -> Predicate:
    """Events of one tenant's record: type starts with ``type_prefix``, ``data[id_field]``."""

    def wanted(event: CloudEvent) -> bool:
        return (
            event.tenant_id == tenant_id
            and event.type.startswith(type_prefix)
            and event.data.get(id_field) == record_id
        )

    return wanted


async def record_changes(
    feed: LiveFeed,
    wanted: Predicate,
    read: Callable[[], Awaitable[T | None]],
    what: str,
    viewer: Hashable = None,
    expires_at: float | None = None,
) -> AsyncIterator[T]:
    """A ``<record>Changed`` subscription: after each event about the record, its current
    state, re-read through ``read`` (the caller's use case, so visibility is checked again
    each time; subscribers with the same ``viewer``, e.g. the principal, share one read per
    event). The caller checks visibility once before; a record that is gone or no longer
    visible ends the subscription with NOT_FOUND, the token's expiry (``expires_at``) with
    UNAUTHENTICATED."""
    async with feed.subscription(wanted) as listener:
        while True:
            event = await listener.get(expires_at)
            if viewer is None:
                current = await read()
            else:
                current = await feed.shared_reads.once((event.id, what, viewer), read)
            if current is None:
                raise NotFound(f"{what} not found")
            yield current


__all__ = [
    "FeedClosed",
    "Listener",
    "LiveFeed",
    "Predicate",
    "RecentIds",
    "SharedReads",
    "SlowListener",
    "TooManyListeners",
    "record_changes",
    "record_events",
]
