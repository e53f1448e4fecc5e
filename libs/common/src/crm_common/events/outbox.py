"""Transactional outbox without multi-document transactions.

A change and the events announcing it are written in ONE document write: the events are pushed
onto the changed document's ``_outbox`` array and its ``_outbox_pending`` counter is raised in
the same update. Either both land or neither does. Unsent events are always the last
``_outbox_pending`` entries of the array. The relay publishes them (``acks=all``, idempotent
producer), lowers the counter by what it sent, and empties the array only while the counter is
zero (a conditional update, so an event pushed meanwhile is never lost). FerretDB ignores
``$pull`` with a condition on sub-documents, hence the counter rather than removing by id.
If the broker is down, writes keep succeeding and the events wait in their documents until the
relay gets them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.propagate import inject
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent

log = logging.getLogger(__name__)

OUTBOX_FIELD = "_outbox"
PENDING_FIELD = "_outbox_pending"
_tracer = trace.get_tracer(__name__)


def new_event(payload: EventData, *, source: str, tenant_id: str, key: str) -> CloudEvent:
    """An event stamped with the current trace context, ready to go into an outbox."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return CloudEvent.new(
        payload,
        source=source,
        tenant_id=tenant_id,
        key=key,
        traceparent=carrier.get("traceparent"),
        tracestate=carrier.get("tracestate"),
    )


def outbox_fields(events: Sequence[CloudEvent]) -> dict[str, Any]:
    """Fields for a document being inserted together with its events."""
    return {
        OUTBOX_FIELD: [e.to_document() for e in events],
        PENDING_FIELD: len(events),
    }


def outbox_update(events: Sequence[CloudEvent]) -> dict[str, Any]:
    """Update operators that append events to an existing document (merge into the update)."""
    return {
        "$push": {OUTBOX_FIELD: {"$each": [e.to_document() for e in events]}},
        "$inc": {PENDING_FIELD: len(events)},
    }


class OutboxSignal:
    """Wakes the relay right after a local write, so events don't wait for the next poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, max_wait_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max_wait_s)
        self._event.clear()


class OutboxRelay:
    """Publishes the pending events of the given collections, oldest documents first."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        collections: Sequence[str],
        topic_for: dict[str, str],
        bootstrap_servers: str,
        signal: OutboxSignal,
        poll_interval_s: float = 0.5,
        batch_size: int = 100,
    ) -> None:
        self._db = db
        self._collections = list(collections)
        self._topic_for = topic_for
        self._bootstrap = bootstrap_servers
        self._signal = signal
        self._poll = poll_interval_s
        self._batch = batch_size
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Publish what is pending (briefly), then close the producer (flushes in-flight sends)."""
        self._stopping = True
        self._signal.notify()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=2,
                request_timeout_ms=10000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._ensure_producer()
                sent = await self.relay_once()
                backoff = 0.2
                if self._stopping:
                    return
                if sent == 0:
                    await self._signal.wait(self._poll)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker or database unavailable: the events stay in their documents.
                log.warning("outbox relay failed; retrying", extra={"error": repr(exc)})
                if self._producer is not None:
                    await self._producer.stop()
                    self._producer = None
                if self._stopping:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def relay_once(self) -> int:
        sent = 0
        for name in self._collections:
            collection = self._db[name]
            cursor = collection.find(
                {PENDING_FIELD: {"$gt": 0}},
                {OUTBOX_FIELD: 1, PENDING_FIELD: 1},
                limit=self._batch,
            )
            async for doc in cursor:
                pending = int(doc.get(PENDING_FIELD) or 0)
                stored = doc.get(OUTBOX_FIELD) or []
                events = [CloudEvent.from_document(e) for e in stored[len(stored) - pending :]]
                if events:
                    await self._publish(events)
                await collection.update_one(
                    {"_id": doc["_id"]}, {"$inc": {PENDING_FIELD: -pending}}
                )
                await collection.update_one(
                    {"_id": doc["_id"], PENDING_FIELD: 0}, {"$set": {OUTBOX_FIELD: []}}
                )
                sent += len(events)
        self.published += sent
        return sent

    async def _publish(self, events: list[CloudEvent]) -> None:
        producer = await self._ensure_producer()
        futures = []
        for event in events:
            topic = self._topic_for.get(event.type) or _topic_from_type(event.type)
            futures.append(
                await producer.send(
                    topic, value=event.body(), key=event.key.encode(), headers=event.headers()
                )
            )
        # Wait for every ack before the events are removed from the outbox: at-least-once.
        await asyncio.gather(*futures)


def _topic_from_type(event_type: str) -> str:
    # crm.customer.created -> crm.customer.v1
    parts = event_type.split(".")
    return f"{parts[0]}.{parts[1]}.v1"
