"""Insights' event consumer: applies each poll's records as one batch.

The Kafka side (connect, poll, commit after handling, reconnect, dead letters) is the shared
`crm_common.events.consumer.KafkaConsumerLoop`; what differs is how a poll is applied. Same
contract as `crm_common.events.consumer.EventConsumer` (at-least-once delivery made
effectively-once by the processed-events ledger, commit after handling, retries, dead letters,
a ``<topic> process`` span continuing the producers' traces) but with a handful of database
round trips per poll instead of several per event: one ledger lookup by ``_id`` for the whole
batch, one bulk ``update`` per read-model collection (`MongoFactBatchWriter`), one bulk insert
into the ledger. On FerretDB each round trip costs milliseconds, so per-event writes capped
insights at a few dozen events per second.

If a batch fails, its events are applied one at a time (retried with backoff); the ones that
keep failing go to the dead-letter topic and are recorded as such, like the common consumer.
The ledger is written after the read models: a crash in between re-applies the batch, which
the projections make harmless (every change is idempotent and order-safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from opentelemetry import trace
from opentelemetry.propagate import extract
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from crm_common.events.consumer import PROCESSED_COLLECTION, KafkaConsumerLoop, is_transient
from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.mongo import CrossTenant
from crm_insights.adapters.mongo import MongoFactBatchWriter
from crm_insights.service.projections import apply_events, event_types

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)
_DUPLICATE_KEY = 11000
_RECENT_IDS = 100_000

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


class BatchLedger:
    """The processed-events ledger of one consumer group, read and written per batch (same
    documents as `crm_common.events.consumer.ProcessedEvents`)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], group: str) -> None:
        # Cross-tenant on purpose: the ledger is the consumer group's, keyed by event id,
        # for the events of every tenant.
        self._collection = CrossTenant(db)[PROCESSED_COLLECTION]
        self._group = group

    def _id(self, event_id: str) -> str:
        return f"{self._group}:{event_id}"

    async def seen(self, event_ids: Sequence[str]) -> set[str]:
        # One find by _id each: FerretDB answers `$in` with a scan of the whole ledger.
        return {
            event_id
            for event_id in event_ids
            if await self._collection.find_one({"_id": self._id(event_id)}, {"_id": 1})
        }

    async def record(self, events: Sequence[CloudEvent], outcome: str) -> None:
        if not events:
            return
        now = datetime.now(UTC)
        documents = [
            {
                "_id": self._id(event.id),
                "type": event.type,
                "tenant_id": event.tenant_id,
                "outcome": outcome,
                "at": now,
            }
            for event in events
        ]
        try:
            await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            # Another replica (or an earlier, interrupted run) recorded some: that is fine.
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                raise


class BatchEventConsumer(KafkaConsumerLoop):
    """Consumes ``topics`` as group ``group`` and applies every poll as one batch."""

    def __init__(
        self,
        *,
        group: str,
        topics: list[str],
        db: AsyncDatabase[dict[str, Any]],
        bootstrap_servers: str,
        on_dirty: Callable[[], None] | None = None,
        max_records: int = 200,
        max_attempts: int = 4,
        retry_backoff_s: float = 0.2,
    ) -> None:
        super().__init__(
            group=group, topics=topics, bootstrap_servers=bootstrap_servers, max_records=max_records
        )
        self._writer = MongoFactBatchWriter(db)
        self._ledger = BatchLedger(db, group)
        self._wanted = frozenset(event_types())
        self._on_dirty = on_dirty
        self._max_attempts = max_attempts
        self._backoff = retry_backoff_s
        # Per partition: the offset below which records are checked against the ledger (the
        # ones a previous owner may have applied without committing); see `_needs_check`.
        self._check_below: dict[TopicPartition, int | None] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()  # ids applied by this process
        self._idle = asyncio.Event()
        self._idle.set()

    async def _close(self) -> None:
        await super()._close()
        self._check_below.clear()

    async def _handle_poll(
        self, consumer: AIOKafkaConsumer, polled: Mapping[TopicPartition, list[Record]]
    ) -> None:
        self._track_assignment(consumer.assignment())
        self._idle.clear()
        try:
            records = [record for batch in polled.values() for record in batch]
            await self.handle_batch(records, self._needs_check)
        finally:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Returns once no batch is being applied (other work defers to the consumer)."""
        await self._idle.wait()

    def _track_assignment(self, assigned: set[TopicPartition]) -> None:
        for tp in set(self._check_below) - assigned:
            del self._check_below[tp]
        for tp in assigned - set(self._check_below):
            self._check_below[tp] = None  # fixed at the first record seen after assignment

    def _needs_check(self, record: Record) -> bool:
        """Only the first ``max_records`` of a partition after it is assigned can have been
        applied already by this group (a previous owner commits after every batch of at most
        that many); later records are new offsets. Checking those alone spares a ledger read
        per event. (An event id published twice — a relay retry — is caught by the recent-id
        memory or, failing that, applied again, which the projections make harmless.)"""
        tp = TopicPartition(record.topic, record.partition)
        if tp not in self._check_below:
            return True
        if self._check_below[tp] is None:
            self._check_below[tp] = record.offset + self._max_records
        limit = self._check_below[tp]
        return limit is not None and record.offset < limit

    def _remember(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self._recent[event_id] = None
        while len(self._recent) > _RECENT_IDS:
            self._recent.popitem(last=False)

    async def handle_batch(
        self, records: Sequence[Record], needs_check: Callable[[Record], bool] | None = None
    ) -> None:
        """Decode, skip what is applied already, apply the rest in one go, record them."""
        links = [
            trace.Link(trace.get_current_span(extract(_carrier(r))).get_span_context())
            for r in records
        ]
        with (
            _tracer.start_as_current_span(
                f"{','.join(sorted({r.topic for r in records}))} process",
                kind=trace.SpanKind.CONSUMER,
                links=links,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.consumer.group.name": self._group,
                    "messaging.batch.message_count": len(records),
                },
            ) as batch_span,
            self._record_spans(records, batch_span),
        ):
            decoded: list[tuple[CloudEvent, EventData]] = []
            to_check: list[str] = []
            for record in records:
                try:
                    event = CloudEvent.from_record(
                        record.key, record.value, list(record.headers or [])
                    )
                    if event.type in self._wanted and event.id not in self._recent:
                        decoded.append((event, event.parse()))
                        if needs_check is None or needs_check(record):
                            to_check.append(event.id)
                except MalformedEvent as exc:
                    await self._dead_letter(record, f"malformed: {exc}")
            already = await self._ledger.seen(to_check)
            fresh: dict[str, tuple[CloudEvent, EventData]] = {}
            for event, payload in decoded:
                if event.id not in already:
                    fresh.setdefault(event.id, (event, payload))  # a redelivery in the same poll
            if not fresh:
                return
            batch = list(fresh.values())
            try:
                flagged = await apply_events(batch, self._writer)
            except Exception as exc:
                if is_transient(exc):
                    # The database is away: the loop reconnects and this poll's records come
                    # again from the committed offsets; none is dead-lettered for an outage.
                    raise
                log.warning(
                    "batch failed; applying its events one by one",
                    extra={"group": self._group, "events": len(batch)},
                    exc_info=True,
                )
                await self._apply_one_by_one(batch, records)
                return
            await self._ledger.record([event for event, _ in batch], "applied")
            self._remember(list(fresh))
            self.handled += len(batch)
            if flagged and self._on_dirty is not None:
                self._on_dirty()

    @contextlib.contextmanager
    def _record_spans(self, records: Sequence[Record], batch: trace.Span) -> Iterator[None]:
        """One CONSUMER span per record inside the trace of the write that produced it, linked
        to the batch span: a mutation's trace shows insights applying its event, although
        insights applies a whole poll at once."""
        to_batch = [trace.Link(batch.get_span_context())]
        spans = [
            _tracer.start_span(
                f"{record.topic} process",
                context=extract(_carrier(record)),
                kind=trace.SpanKind.CONSUMER,
                links=to_batch,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": record.topic,
                    "messaging.consumer.group.name": self._group,
                    "messaging.kafka.offset": record.offset,
                    "messaging.message.id": _carrier(record).get("ce_id", ""),
                },
            )
            for record in records
        ]
        try:
            yield
        finally:
            for span in spans:
                span.end()

    async def _apply_one_by_one(
        self, batch: Sequence[tuple[CloudEvent, EventData]], records: Sequence[Record]
    ) -> None:
        by_id = {_carrier(r).get("ce_id"): r for r in records}
        for event, payload in batch:
            last_error: Exception | None = None
            for attempt in range(1, self._max_attempts + 1):
                try:
                    flagged = await apply_events([(event, payload)], self._writer)
                    await self._ledger.record([event], "applied")
                    self._remember([event.id])
                    self.handled += 1
                    if flagged and self._on_dirty is not None:
                        self._on_dirty()
                    break
                except Exception as exc:
                    if is_transient(exc):
                        raise  # as above: redelivered after the database is back
                    last_error = exc
                    log.warning(
                        "event handler failed",
                        extra={"event_id": event.id, "type": event.type, "attempt": attempt},
                        exc_info=True,
                    )
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            else:
                await self._dead_letter(by_id[event.id], f"handler failed: {last_error!r}")
                await self._ledger.record([event], "dead_lettered")


def _carrier(record: Record) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in record.headers or []}


__all__ = ["BatchEventConsumer", "BatchLedger", "TopicPartition"]
