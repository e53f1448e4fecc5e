"""Consumer runner: at-least-once delivery made effectively-once by idempotent handling.

For each record: decode the CloudEvent, skip it if this consumer group already processed its
id, otherwise run the handler (retrying with backoff), record the id, and commit offsets only
after the whole batch is handled. A record that keeps failing, or is not a valid event, goes to
the group's dead-letter topic with the reason and the consumer moves on. Each record is handled
in a ``<topic> process`` span that continues the producer's trace from the record headers (the
aiokafka instrumentation ends its own span before the handler runs).

A consumer may also name a ``fallback``: it receives, unparsed, every valid CloudEvent whose
type has no handler (even types without a contract yet), with the same idempotency, retries
and dead-lettering. A generic read model such as a timeline is built with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from opentelemetry import trace
from opentelemetry.propagate import extract
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.events.topics import dead_letter_topic

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

Handler = Callable[[CloudEvent, EventData], Awaitable[None]]
FallbackHandler = Callable[[CloudEvent], Awaitable[None]]
PROCESSED_COLLECTION = "processed_events"


class ProcessedEvents:
    """Ids of the events this consumer group has applied (its idempotency ledger)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], group: str) -> None:
        self._collection = db[PROCESSED_COLLECTION]
        self._group = group

    def _id(self, event_id: str) -> str:
        return f"{self._group}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        return await self._collection.find_one({"_id": self._id(event_id)}, {"_id": 1}) is not None

    async def record(self, event: CloudEvent, outcome: str) -> None:
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.insert_one(
                {
                    "_id": self._id(event.id),
                    "type": event.type,
                    "tenant_id": event.tenant_id,
                    "outcome": outcome,
                    "at": datetime.now(UTC),
                }
            )


def application(
    event: CloudEvent, handlers: Mapping[str, Handler], fallback: FallbackHandler | None
) -> Callable[[], Awaitable[None]] | None:
    """What applying ``event`` means for a consumer with ``handlers`` and ``fallback``: its
    typed handler on the parsed payload, else the fallback on the event, else nothing (None).
    The live consumer and a replay (`crm_common.events.replay`) both go through here.
    Raises `MalformedEvent` when a handled type does not parse."""
    handler = handlers.get(event.type)
    if handler is not None:
        payload = event.parse()

        async def typed() -> None:
            await handler(event, payload)

        return typed
    if fallback is not None:
        untyped = fallback

        async def generic() -> None:
            await untyped(event)

        return generic
    return None


def is_transient(exc: BaseException) -> bool:
    """A database outage (connection lost, no server selectable), as opposed to a bad event."""
    return isinstance(exc, ConnectionFailure)


class KafkaConsumerLoop(ABC):
    """The Kafka side every consumer group shares: connect (with a dead-letter producer),
    poll, let the subclass handle the poll, commit its offsets, reconnect with backoff after
    any failure, stop cleanly. Offsets are committed only once the whole poll is handled, so
    a crash re-delivers it (the subclass's ledger makes that harmless)."""

    def __init__(
        self, *, group: str, topics: list[str], bootstrap_servers: str, max_records: int = 200
    ) -> None:
        self._group = group
        self._topics = topics
        self._bootstrap = bootstrap_servers
        self._max_records = max_records
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.handled = 0
        self.dead_lettered = 0

    @property
    def connected(self) -> bool:
        return self._consumer is not None

    async def start(self, *_: object) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self._group}")

    async def stop(self, *_: object) -> None:
        """Finish the poll in hand, commit, leave the group."""
        self._stopping.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=15)
            except TimeoutError:
                self._task.cancel()
        await self._close()

    @abstractmethod
    async def _handle_poll(
        self,
        consumer: AIOKafkaConsumer,
        polled: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        """Apply every record of the poll (or dead-letter it); raising re-delivers the poll."""

    async def _close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._dlq is not None:
            await self._dlq.stop()
            self._dlq = None

    async def _connect(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._max_records,
        )
        dlq = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True
        )
        try:
            await consumer.start()
            await dlq.start()
        except BaseException:
            await consumer.stop()
            await dlq.stop()
            raise
        self._consumer, self._dlq = consumer, dlq
        return consumer

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                consumer = self._consumer or await self._connect()
                polled = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
                if any(polled.values()):
                    await self._handle_poll(consumer, polled)
                    await consumer.commit(
                        {tp: records[-1].offset + 1 for tp, records in polled.items() if records}
                    )
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "consumer loop failed; reconnecting",
                    extra={"group": self._group, "error": repr(exc)},
                )
                await self._close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        assert self._dlq is not None
        headers = [
            *(record.headers or []),
            ("crm_dlq_reason", reason[:1000].encode()),
            ("crm_dlq_source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        await self._dlq.send_and_wait(
            dead_letter_topic(self._group), value=record.value, key=record.key, headers=headers
        )
        self.dead_lettered += 1
        log.error("event dead-lettered", extra={"group": self._group, "reason": reason})


class EventConsumer(KafkaConsumerLoop):
    """Runs handlers for the event types a service subscribes to, one record at a time."""

    def __init__(
        self,
        *,
        group: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        db: AsyncDatabase[dict[str, Any]],
        bootstrap_servers: str,
        max_attempts: int = 4,
        retry_backoff_s: float = 0.2,
        fallback: FallbackHandler | None = None,
    ) -> None:
        super().__init__(group=group, topics=topics, bootstrap_servers=bootstrap_servers)
        self._handlers = dict(handlers)
        self._fallback = fallback
        self._processed = ProcessedEvents(db, group)
        self._max_attempts = max_attempts
        self._backoff = retry_backoff_s

    async def _handle_poll(
        self,
        consumer: AIOKafkaConsumer,
        polled: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        for records in polled.values():
            for record in records:
                await self._handle_record(record)

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        headers = list(record.headers or [])
        carrier = {k: v.decode("utf-8", "replace") for k, v in headers}
        with _tracer.start_as_current_span(
            f"{record.topic} process",
            context=extract(carrier),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self._group,
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": carrier.get("ce_id", ""),
            },
        ):
            try:
                event = CloudEvent.from_record(record.key, record.value, headers)
                apply = application(event, self._handlers, self._fallback)
            except MalformedEvent as exc:
                await self._dead_letter(record, f"malformed: {exc}")
                return
            if apply is None:
                return  # not an event this service reacts to
            if await self._processed.seen(event.id):
                return
            last_error: Exception | None = None
            attempt = outage_tries = 0
            while attempt < self._max_attempts:
                try:
                    await apply()
                    await self._processed.record(event, "applied")
                    self.handled += 1
                    return
                except Exception as exc:
                    if is_transient(exc):
                        # The database is away, not the event at fault: wait for it instead
                        # of using up attempts and dead-lettering a good event. Stopping
                        # meanwhile leaves the record uncommitted for the next start.
                        if self._stopping.is_set():
                            raise
                        outage_tries += 1
                        log.warning(
                            "database unavailable; event waits",
                            extra={"event_id": event.id, "type": event.type, "error": repr(exc)},
                        )
                        await asyncio.sleep(min(self._backoff * 2**outage_tries, 5.0))
                        continue
                    attempt += 1
                    last_error = exc
                    log.warning(
                        "event handler failed",
                        extra={"event_id": event.id, "type": event.type, "attempt": attempt},
                        exc_info=True,
                    )
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            await self._dead_letter(record, f"handler failed: {last_error!r}")
            await self._processed.record(event, "dead_lettered")


__all__ = [
    "EventConsumer",
    "FallbackHandler",
    "Handler",
    "KafkaConsumerLoop",
    "ProcessedEvents",
    "TopicPartition",
    "application",
]
