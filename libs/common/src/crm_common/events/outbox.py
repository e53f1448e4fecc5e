"""Transactional outbox without multi-document transactions, safe with several replicas.

Every service database has an ``outbox`` collection with one document per event (the *entry*):
``{_id: event id, event: <the full CloudEvent>, collection, doc_id, writer, state, at, seq}``.
It is a queue: entries exist only until the relay has the broker's ack, so it is empty when
the service is idle. See docs/architecture.md ("Replicas: how they coordinate").

Write path (`staged_events`, `staged_events_many`; every writer uses one of them, except the
bulk import, see `events_after_write`):

1. insert the entries with ``state: "prepared"`` (an insert under the event id: atomic);
2. the caller's business write, which also records the event ids in the changed document
   (``_outbox_ids``, see `StagedEvents.update` / `StagedEvents.fields`);
3. once that write has returned, set the entries ``"ready"``. If it raised, or matched nothing
   (`StagedEvents.abandon`), the entries are deleted instead; if its outcome is unknown (the
   connection failed), they are left for the sweep.

Relay (`OutboxRelay`, in every replica): the *fast path* publishes this process's own ready
entries in ``seq`` order (``acks=all``, idempotent producer), waits for every ack, then
deletes the entries by ``_id``. The *sweep* runs only on the replica holding the
``outbox-sweep`` lease: it publishes ready entries of any writer older than ``ready_grace_s``
(a dead or stuck replica's), and resolves prepared entries older than ``prepared_check_s``
(a writer that died between steps 1 and 3) by reading the business document's
``_outbox_ids``: the id is there → the write landed → publish; absent for longer than
``prepared_expiry_s`` → the write never landed → delete.

Why it holds on both stores: the relay never writes a business document, so it cannot revert
a business write -- FerretDB 1.24 applies every update as read-modify-write of the whole
document with no version check, which is what made the earlier design (events embedded in the
business document, a pending counter lowered by the relay) lose events and even business
changes with several replicas. Every write the relay makes is an insert or a delete of an
entry by ``_id``, which FerretDB does atomically too; the only update of an entry is the
writer's own ``prepared → ready``, and no one else updates entries. An event is published only
when its writer saw the business write succeed (``ready``) or the sweep saw its id in the
business document, so there are no phantom events; an entry is deleted only after the ack or
once the write provably did not land, so there is no loss. Races (the sweep and the owner
publishing the same entry, two sweepers across a lease handover) cost a duplicate, which
consumers absorb (they record processed event ids). An event announced twice under one
deterministic id (``crm_common.coordination.deterministic_event_id``) keeps one entry.

Order: one writer publishes its events in the order it staged them, so the events of one key
written by one process keep their order. Events of one key written by *different* replicas go
out in the order their relays publish them, which is the write order unless a relay lags by
more than the gap between the two writes; and an entry left by a dead replica is published by
the sweep seconds later, after newer events of the same key. Consumers therefore compare
versions/timestamps where order matters (the customer copies do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from crm_common.clock import utc_now
from crm_common.coordination import PROCESS_ID, Lease
from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from crm_common.mongo import sorts_in_memory

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

#: The queue collection, one per service database.
OUTBOX_COLLECTION = "outbox"
#: The event ids a business document has announced (how the sweep tells whether a write landed).
IDS_FIELD = "_outbox_ids"
#: How many ids an updated document keeps (MongoDB; FerretDB 1.24 ignores ``$slice``).
IDS_KEPT = 256
#: Fields of the earlier design, still present in old documents; reads may exclude all three.
LEGACY_FIELDS = ("_outbox", "_outbox_pending")
EXCLUDE_OUTBOX: dict[str, Any] = {IDS_FIELD: 0, **dict.fromkeys(LEGACY_FIELDS, 0)}

PREPARED = "prepared"
READY = "ready"

#: What the relay's queries need (registered by `ServiceRuntime.with_outbox`).
OUTBOX_INDEXES: dict[str, Sequence[IndexModel]] = {
    OUTBOX_COLLECTION: [
        IndexModel([("writer", ASCENDING), ("state", ASCENDING), ("seq", ASCENDING)], name="own"),
        # The sweep: stale entries of any writer, oldest first (equality, sort, range).
        IndexModel(
            [("state", ASCENDING), ("at", ASCENDING), ("seq", ASCENDING)], name="by_age_seq"
        ),
    ]
}

_MIGRATIONS = "outbox_migrations"
_EMBEDDED_MIGRATION = "embedded-outbox-v1"

_last_seq = 0


def _next_seq() -> int:
    """Strictly increasing in this process; roughly comparable across processes (wall ns)."""
    global _last_seq
    _last_seq = max(_last_seq + 1, time.time_ns())
    return _last_seq


def _entry(
    collection: str, doc_id: Any, event: CloudEvent, state: str, writer: str
) -> dict[str, Any]:
    return {
        "_id": event.id,
        "event": event.to_document(),
        "collection": collection,
        "doc_id": doc_id,
        "writer": writer,
        "state": state,
        "at": utc_now(),
        "seq": _next_seq(),
    }


def _publish_span(topic: str, event: CloudEvent) -> tuple[trace.Span, list[tuple[str, bytes]]]:
    """A PRODUCER span in the trace of the write that recorded ``event`` (its stored context),
    and the record headers carrying that span onward, so consumers hang below the publish."""
    stored = {"traceparent": event.traceparent or "", "tracestate": event.tracestate or ""}
    span = _tracer.start_span(
        f"{topic} publish",
        context=extract({k: v for k, v in stored.items() if v}),
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.message.id": event.id,
        },
    )
    carrier: dict[str, str] = {}
    inject(carrier, context=trace.set_span_in_context(span))
    headers = [(k, v) for k, v in event.headers() if k not in ("traceparent", "tracestate")]
    headers += [(k, v.encode()) for k, v in carrier.items() if k in ("traceparent", "tracestate")]
    if not carrier:  # tracing off: keep the write's own context as it was
        headers = event.headers()
    return span, headers


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


class StagedEvents:
    """Events of one business write, staged in the outbox (see `staged_events`).

    For a bulk write, `fields_for` gives each document its own ids and `landed` says which
    documents went in; the others' entries are deleted.
    """

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        collection: str,
        events_by_doc: Mapping[Any, Sequence[CloudEvent]],
        writer: str = PROCESS_ID,
    ) -> None:
        self._outbox = db[OUTBOX_COLLECTION]
        self._collection = collection
        self._events = {doc_id: list(events) for doc_id, events in events_by_doc.items() if events}
        self._writer = writer
        self._landed: set[Any] | None = None
        self._staged: list[str] = []  # ids whose entries this write inserted
        self._foreign: list[tuple[Any, CloudEvent]] = []  # ids another writer had staged

    @property
    def ids(self) -> list[str]:
        return [e.id for events in self._events.values() for e in events]

    def fields_for(self, doc_id: Any) -> dict[str, Any]:
        """Fields to add to the inserted document ``doc_id``."""
        events = self._events.get(doc_id)
        return {IDS_FIELD: [e.id for e in events]} if events else {}

    @property
    def fields(self) -> dict[str, Any]:
        """Fields to add to the inserted document (single-document staging)."""
        return {IDS_FIELD: self.ids} if self._events else {}

    @property
    def update(self) -> dict[str, Any]:
        """Update operators that record the ids in an existing document (see `merged`)."""
        if not self._events:
            return {}
        # MongoDB keeps the last IDS_KEPT ids; FerretDB 1.24 ignores $slice, so there the
        # list grows with every event of the document (ids only, ~40 bytes each).
        return {"$push": {IDS_FIELD: {"$each": self.ids, "$slice": -IDS_KEPT}}}

    def merged(self, update: dict[str, Any]) -> dict[str, Any]:
        """``update`` with the ids recorded too (merging into an existing ``$push``)."""
        extra = self.update
        if not extra:
            return update
        return {**update, "$push": {**update.get("$push", {}), **extra["$push"]}}

    def abandon(self) -> None:
        """The business write did not happen (matched nothing, lost a claim): drop the events."""
        self._landed = set()

    def landed(self, doc_ids: Sequence[Any]) -> None:
        """Bulk writes: only these documents went in."""
        self._landed = set(doc_ids)

    def _entry(self, doc_id: Any, event: CloudEvent, state: str) -> dict[str, Any]:
        return _entry(self._collection, doc_id, event, state, self._writer)

    async def prepare(self) -> None:
        """Step 1: insert the entries as prepared."""
        pairs = [(doc_id, e) for doc_id, events in self._events.items() for e in events]
        if not pairs:
            return
        entries = [self._entry(doc_id, e, PREPARED) for doc_id, e in pairs]
        try:
            await self._outbox.insert_many(entries, ordered=False)
            self._staged = [e.id for _, e in pairs]
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if any(e.get("code") != 11000 for e in errors):
                await self._delete_staged([entry["_id"] for entry in entries])
                raise
            # The same event (deterministic id) is staged already, by another replica.
            taken = {entries[e["index"]]["_id"] for e in errors}
            self._staged = [e.id for _, e in pairs if e.id not in taken]
            self._foreign = [(doc_id, e) for doc_id, e in pairs if e.id in taken]

    async def commit(self) -> None:
        """Step 3: the business write returned; publishable now (or dropped, if abandoned).

        Never raises: the business write has happened, and entries left prepared are
        published by the sweep once it finds their ids in the business documents.
        """
        try:
            await self._commit()
        except Exception as exc:
            log.warning("could not mark staged events ready", extra={"error": repr(exc)})

    async def _commit(self) -> None:
        landed_ids = {
            e.id
            for doc_id, events in self._events.items()
            if self._landed is None or doc_id in self._landed
            for e in events
        }
        ready = [i for i in self._staged if i in landed_ids]
        dropped = [i for i in self._staged if i not in landed_ids]
        if ready:
            await self._outbox.update_many(
                {"_id": {"$in": ready}, "writer": self._writer}, {"$set": {"state": READY}}
            )
        if dropped:
            await self._delete_staged(dropped)
        for doc_id, event in self._foreign:
            if event.id in landed_ids:
                await self._adopt(doc_id, event)

    async def rollback(self, exc: BaseException) -> None:
        """The business write raised: delete the entries, unless its outcome is unknown."""
        if not isinstance(exc, Exception) or isinstance(exc, ConnectionFailure):
            # Cancelled, or the connection failed: the write may have landed (a timeout after
            # the server applied it). The sweep decides from the business document.
            return
        if len(self._events) > 1:
            # A bulk insert that failed half-way: the sweep decides per document.
            return
        await self._delete_staged(self._staged)

    async def _delete_staged(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        try:
            await self._outbox.delete_many(
                {"_id": {"$in": list(ids)}, "writer": self._writer, "state": PREPARED}
            )
        except Exception as exc:  # best effort: the sweep drops them later
            log.warning("could not drop staged events", extra={"error": repr(exc)})

    async def _adopt(self, doc_id: Any, event: CloudEvent) -> None:
        """Our write landed an event another writer had staged: make sure it goes out once.

        The other writer deletes its prepared entry when its own write fails, so take the
        entry over (prepared → ready), or insert it again if it is gone already.
        """
        for _ in range(3):
            try:
                await self._outbox.insert_one(self._entry(doc_id, event, READY))
                return
            except DuplicateKeyError:
                pass
            taken = await self._outbox.update_one(
                {"_id": event.id, "state": PREPARED},
                {"$set": {"state": READY, "writer": self._writer, "doc_id": doc_id}},
            )
            if taken.matched_count:
                return
            if await self._outbox.find_one({"_id": event.id, "state": READY}, {"_id": 1}):
                return  # ready under its first writer: it goes out


@contextlib.asynccontextmanager
async def staged_events(
    db: AsyncDatabase[dict[str, Any]],
    collection: str,
    doc_id: Any,
    events: Sequence[CloudEvent],
    writer: str = PROCESS_ID,
) -> AsyncIterator[StagedEvents]:
    """Wrap ONE business write of document ``doc_id`` that announces ``events``.

    Inside the block, add ``staged.fields`` to an inserted document or merge ``staged.update``
    into an update (``staged.merged(update)``), make the write, and call ``staged.abandon()``
    if it matched nothing or lost a claim. Keep only the write and the checks of its result in
    the block: an exception leaving it drops the events. Without events it costs nothing.
    """
    async with staged_events_many(db, collection, {doc_id: events}, writer) as staged:
        yield staged


@contextlib.asynccontextmanager
async def staged_events_many(
    db: AsyncDatabase[dict[str, Any]],
    collection: str,
    events_by_doc: Mapping[Any, Sequence[CloudEvent]],
    writer: str = PROCESS_ID,
) -> AsyncIterator[StagedEvents]:
    """`staged_events` for a bulk insert: ``staged.fields_for(doc_id)`` per document and
    ``staged.landed(doc_ids)`` for the ones that went in (all, if not called)."""
    staged = StagedEvents(db, collection, events_by_doc, writer)
    await staged.prepare()
    try:
        yield staged
    except BaseException as exc:
        await staged.rollback(exc)
        raise
    await staged.commit()


class EventsNotRecorded(Exception):
    """`events_after_write` could not insert the entries: the documents are written, their
    events are not yet in the outbox. The caller must leave its work to be resumed (and the
    resume must announce again), never report it finished."""


async def events_after_write(
    db: AsyncDatabase[dict[str, Any]],
    collection: str,
    events_by_doc: Mapping[Any, Sequence[CloudEvent]],
    writer: str = PROCESS_ID,
    *,
    attempts: int = 8,
) -> None:
    """The write path for bulk inserts whose events can be rebuilt from the inserted documents
    under deterministic ids: the documents went in first, their entries now go in ``ready``.

    It skips a write and an update per event: on FerretDB the ``prepared -> ready`` update
    costs ~1.5 ms a document (measured: 370-700 entries/s, against ~10,000/s for inserts),
    which made it most of a customer import's time. The price is a window in which documents
    exist without their entries (a crash, the store away longer than the retries); so only a
    caller that resumes its unfinished work and announces the documents of the batch under way
    again (the customer import does) may use it. A duplicate id (an entry announced already)
    is kept as it is.
    """
    entries = [
        _entry(collection, doc_id, event, READY, writer)
        for doc_id, events in events_by_doc.items()
        for event in events
    ]
    if not entries:
        return
    pause = 0.1
    for attempt in range(attempts):
        try:
            await db[OUTBOX_COLLECTION].insert_many(entries, ordered=False)
            return
        except BulkWriteError as exc:
            if all(e.get("code") == 11000 for e in exc.details.get("writeErrors") or [{}]):
                return  # the rest went in; these were announced already
            error: Exception = exc
        except PyMongoError as exc:
            error = exc
        if attempt + 1 < attempts:
            log.warning("outbox insert failed; retrying", extra={"error": repr(error)})
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
    raise EventsNotRecorded(f"{len(entries)} events not recorded: {error!r}")


class OutboxSignal:
    """Wakes the relay right after a local write, so events don't wait for the next poll; the
    same write also wakes any other listener (the due-time loops of `crm_common.scheduling`)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    def listen(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def notify(self) -> None:
        self._event.set()
        for callback in self._listeners:
            callback()

    async def wait(self, max_wait_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max_wait_s)
        self._event.clear()


class OutboxRelay:
    """Publishes the outbox entries (see the module docstring): own ones at once, and, while
    holding the sweep lease, those that dead or slow writers left behind."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        collections: Sequence[str],
        topic_for: dict[str, str],
        bootstrap_servers: str,
        signal: OutboxSignal,
        poll_interval_s: float = 0.5,
        batch_size: int = 100,
        *,
        writer: str = PROCESS_ID,
        sweep_interval_s: float = 3.0,
        ready_grace_s: float = 10.0,
        prepared_check_s: float = 30.0,
        prepared_expiry_s: float = 300.0,
        lease: Lease | None = None,
    ) -> None:
        self._db = db
        self._outbox = db[OUTBOX_COLLECTION]
        # Only for moving events of the earlier design (embedded in these collections).
        self._collections = list(collections)
        self._topic_for = topic_for
        self._bootstrap = bootstrap_servers
        self._signal = signal
        self._poll = poll_interval_s
        # FerretDB reads the backlog once per batch (no sort or `$in` pushdown): fewer,
        # larger batches drain a backlog (an import, a broker outage) in fewer passes.
        self._batch = max(batch_size, 500) if sorts_in_memory() else batch_size
        self._writer = writer
        self._sweep_every = sweep_interval_s
        self._ready_grace = timedelta(seconds=ready_grace_s)
        self._prepared_check = timedelta(seconds=prepared_check_s)
        self._prepared_expiry = timedelta(seconds=prepared_expiry_s)
        self._lease = lease or Lease(db, "outbox-sweep", holder=writer)
        self._next_sweep = 0.0
        self._migrated = False
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0
        self.swept = 0

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Publish what is ready (briefly), then close the producer (flushes in-flight sends)."""
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
        with contextlib.suppress(Exception):
            await self._lease.release()

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
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._ensure_producer()
                sent = await self.relay_once()
                if not self._stopping and loop.time() >= self._next_sweep:
                    self._next_sweep = loop.time() + self._sweep_every
                    sent += await self.sweep_once()
                backoff = 0.2
                if self._stopping:
                    return
                if sent == 0:
                    wait = min(self._poll, max(self._next_sweep - loop.time(), 0.01))
                    await self._signal.wait(wait)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker or database unavailable: the entries stay in the outbox.
                log.warning("outbox relay failed; retrying", extra={"error": repr(exc)})
                if self._producer is not None:
                    await self._producer.stop()
                    self._producer = None
                if self._stopping:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def relay_once(self) -> int:
        """Fast path: publish this process's ready entries, oldest first, until none is left."""
        sent = 0
        # On FerretDB a sorted query reads (and sorts) the writer's whole backlog for each
        # batch: 100,000 entries after an import or a broker outage made draining quadratic.
        # There the batch is read unsorted (PostgreSQL returns an append-only table in about
        # insertion order) and sorted here; order is best-effort anyway (module docstring).
        order = None if sorts_in_memory() else [("seq", ASCENDING)]
        batch = self._batch
        while True:
            entries = [
                doc
                async for doc in self._outbox.find(
                    {"writer": self._writer, "state": READY}, sort=order, limit=batch
                )
            ]
            entries.sort(key=lambda entry: entry.get("seq", 0))
            if not entries:
                break
            await self._publish_and_delete(entries)
            sent += len(entries)
            if len(entries) < batch:
                break
            if sorts_in_memory():
                # A backlog: each batch's `$in` delete reads the whole outbox on FerretDB, so
                # fewer, larger batches (up to 10x) drain it in fewer passes.
                batch = min(batch * 2, self._batch * 10)
        self.published += sent
        return sent

    async def sweep_once(self) -> int:
        """On the lease holder only: entries of dead or slow writers. Returns how many it sent."""
        if not await self._lease.held():
            return 0
        if not self._migrated:
            await self._move_embedded_events()
            self._migrated = True
        now = utc_now()
        # (Unsorted on FerretDB, which would read and sort every match first; see relay_once.)
        order = None if sorts_in_memory() else [("at", ASCENDING), ("seq", ASCENDING)]
        stale_ready = [
            doc
            async for doc in self._outbox.find(
                # Not our own: this process's fast path is publishing those (a backlog after
                # an import or an outage is old, not abandoned).
                {
                    "state": READY,
                    "at": {"$lt": now - self._ready_grace},
                    "writer": {"$ne": self._writer},
                },
                sort=order,
                limit=self._batch,
            )
        ]
        stale_ready.sort(key=lambda entry: (entry["at"], entry.get("seq", 0)))
        sent = 0
        if stale_ready:
            await self._publish_and_delete(stale_ready)
            sent += len(stale_ready)
        stale_prepared = [
            doc
            async for doc in self._outbox.find(
                {"state": PREPARED, "at": {"$lt": now - self._prepared_check}},
                sort=order,
                limit=self._batch,
            )
        ]
        if stale_prepared:
            landed, expired = await self._resolve_prepared(stale_prepared, now)
            if landed:
                await self._publish_and_delete(landed)
                sent += len(landed)
            if expired:
                await self._outbox.delete_many(
                    {"_id": {"$in": [doc["_id"] for doc in expired]}, "state": PREPARED}
                )
                log.info("dropped events of writes that never landed", extra={"n": len(expired)})
        self.swept += sent
        self.published += sent
        return sent

    async def _resolve_prepared(
        self, entries: list[dict[str, Any]], now: Any
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Split prepared entries into landed (id in the business document) and expired."""
        by_collection: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            by_collection.setdefault(entry["collection"], []).append(entry)
        landed: list[dict[str, Any]] = []
        expired: list[dict[str, Any]] = []
        for name, group in by_collection.items():
            doc_ids = list({entry["doc_id"] for entry in group})
            announced: dict[Any, set[str]] = {
                doc["_id"]: set(doc.get(IDS_FIELD) or [])
                async for doc in self._db[name].find({"_id": {"$in": doc_ids}}, {IDS_FIELD: 1})
            }
            for entry in group:
                if entry["_id"] in announced.get(entry["doc_id"], ()):
                    landed.append(entry)
                elif entry["at"] < now - self._prepared_expiry:
                    expired.append(entry)
        landed.sort(key=lambda entry: (entry["at"], entry["seq"]))
        return landed, expired

    async def _publish_and_delete(self, entries: list[dict[str, Any]]) -> None:
        await self._publish([CloudEvent.from_document(entry["event"]) for entry in entries])
        # Only after every ack: at least once. A delete by _id is atomic on both stores.
        # (On FerretDB this `$in` reads the whole outbox, but deletes the batch in one
        # statement: ~0.5 ms an entry, where one `_id` delete each costs ~3.6 ms; hence the
        # larger batches there, see __init__.)
        await self._outbox.delete_many({"_id": {"$in": [entry["_id"] for entry in entries]}})

    async def _publish(self, events: list[CloudEvent]) -> None:
        producer = await self._ensure_producer()
        futures = []
        spans: list[trace.Span] = []
        try:
            for event in events:
                topic = self._topic_for.get(event.type) or _topic_from_type(event.type)
                span, headers = _publish_span(topic, event)
                spans.append(span)
                futures.append(
                    await producer.send(
                        topic, value=event.body(), key=event.key.encode(), headers=headers
                    )
                )
            # Wait for every ack before the entries are removed from the outbox: at-least-once.
            await asyncio.gather(*futures)
        finally:
            for span in spans:
                span.end()

    async def _move_embedded_events(self) -> None:
        """Once per database: events still pending in documents of the earlier design become
        ready entries (unique inserts; a crash half-way repeats some, as duplicates)."""
        migrations = self._db[_MIGRATIONS]
        if await migrations.find_one({"_id": _EMBEDDED_MIGRATION}) is not None:
            return
        moved = 0
        for name in self._collections:
            cursor = self._db[name].find(
                {"_outbox_pending": {"$gt": 0}}, dict.fromkeys(LEGACY_FIELDS, 1)
            )
            async for doc in cursor:
                pending = int(doc.get("_outbox_pending") or 0)
                stored = doc.get("_outbox") or []
                entries = [
                    _entry(name, doc["_id"], CloudEvent.from_document(e), READY, self._writer)
                    for e in stored[max(len(stored) - pending, 0) :]
                ]
                if not entries:
                    continue
                try:
                    await self._outbox.insert_many(entries, ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details.get("writeErrors") or []
                    if any(e.get("code") != 11000 for e in errors):
                        raise
                moved += len(entries)
        with contextlib.suppress(DuplicateKeyError):
            await migrations.insert_one(
                {"_id": _EMBEDDED_MIGRATION, "at": utc_now(), "moved": moved}
            )
        if moved:
            log.info("moved embedded outbox events into the outbox", extra={"n": moved})


def _topic_from_type(event_type: str) -> str:
    # crm.customer.created -> crm.customer.v1
    parts = event_type.split(".")
    return f"{parts[0]}.{parts[1]}.v1"
