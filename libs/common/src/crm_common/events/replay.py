"""Rebuilding a service's read models from the topics, and checking a rebuild against live.

A service's *read models* are its copies and projections of other services' data: the customer
copy, the tenant settings copy, the timeline, insights' facts... They are derived from events
only, so the topics (kept forever, `crm_common.events.topics`) can rebuild them. A replay:

1. takes a TARGET database that must be empty (`NotEmpty` otherwise; default name
   ``<live>_rebuilt``), creates the service's indexes in it;
2. when the service's handlers need the service's own records to decide (a merge re-points
   them, a reaction reads the customer), copies the service's own collections from the live
   database first (``ReplaySpec.seed``; never the read models, the ledger or the outbox);
3. reads the service's topics from the beginning up to the end offsets captured when the
   replay starts, with a fresh consumer that joins no group and commits nothing (every
   partition assigned), and feeds each record through the SAME handlers the live consumer
   uses (`crm_common.events.consumer.application`, with the same processed-events ledger);
4. carries the service's own fields stored on read-model documents (``own_fields``: e.g.
   engagement's priority on its customer copy) from live, and drops what the handlers staged
   for publication (the outbox: live announced those events already);
5. `compare` then lists every document that differs between live and the rebuild, per
   collection, ignoring only the fields the spec names with a reason.

Run it through each service's ``python -m crm_<svc>.adapters.replay`` (``make replay
SERVICE=...``). The production procedure (rebuild beside live, compare, switch) is in
docs/architecture.md, "Rebuilding read models".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.coordination import LEASES_COLLECTION
from crm_common.events.consumer import (
    PROCESSED_COLLECTION,
    FallbackHandler,
    Handler,
    ProcessedEvents,
    application,
)
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import CrossTenant, Document, create_client, ensure_indexes

log = logging.getLogger(__name__)

REBUILT_SUFFIX = "_rebuilt"
# Never copied into a rebuild nor compared: the ledger is rebuilt by the replay itself (its
# ``at`` stamps are the replay's), the outbox holds what live still has to publish, leases
# belong to running processes.
BOOKKEEPING = frozenset({PROCESSED_COLLECTION, OUTBOX_COLLECTION, LEASES_COLLECTION})


class NotEmpty(Exception):
    """The target database already holds documents: a replay only fills an empty one."""


async def partitions_of(bootstrap_servers: str, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` (a consumer that is not subscribed has no metadata)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return sorted(
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if not topic.get("error_code")
        for partition in topic.get("partitions", [])
    )


async def read_to_end(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    max_records: int = 500,
    tenants: Collection[str] | None = None,
) -> AsyncIterator[list[CloudEvent]]:
    """Every valid event of ``topics`` up to the end offsets seen at the start, a poll at a
    time (only those of ``tenants`` when given). Not a group member (nothing committed, no
    rebalance); a record that is not a CloudEvent is skipped (the live consumer dead-lettered
    it)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=f"replay-{uuid.uuid4().hex}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap_servers, topics)
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > await consumer.position(tp)}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=max_records)
            events: list[CloudEvent] = []
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    try:
                        event = CloudEvent.from_record(
                            record.key, record.value, list(record.headers or [])
                        )
                    except MalformedEvent:
                        continue
                    if tenants is None or event.tenant_id in tenants:
                        events.append(event)
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            yield events
    finally:
        await consumer.stop()


def _of_tenants(tenants: Collection[str] | None) -> Document:
    return {} if tenants is None else {"tenant_id": {"$in": sorted(tenants)}}


async def ensure_empty(db: AsyncDatabase[Document]) -> None:
    if await db.list_collection_names():
        raise NotEmpty(f"database {db.name} is not empty")


async def copy_collections(
    source: AsyncDatabase[Document],
    target: AsyncDatabase[Document],
    names: Sequence[str],
    batch: int = 500,
    tenants: Collection[str] | None = None,
) -> int:
    """Copy whole collections (a seed of the service's own records), or only the documents
    of ``tenants``."""
    copied = 0
    query = _of_tenants(tenants)
    for name in names:
        chunk: list[Document] = []
        async for doc in CrossTenant(source)[name].find(query):
            chunk.append(doc)
            if len(chunk) >= batch:
                await CrossTenant(target)[name].insert_many(chunk, ordered=False)
                copied += len(chunk)
                chunk = []
        if chunk:
            await CrossTenant(target)[name].insert_many(chunk, ordered=False)
            copied += len(chunk)
    return copied


@dataclass(frozen=True)
class ReplayCounts:
    read: int = 0
    applied: int = 0
    failed: int = 0


async def replay_handlers(
    db: AsyncDatabase[Document],
    bootstrap_servers: str,
    topics: Sequence[str],
    handlers: Mapping[str, Handler],
    fallback: FallbackHandler | None = None,
    group: str = "replay",
    tenants: Collection[str] | None = None,
) -> ReplayCounts:
    """Feed every event of ``topics`` through ``handlers`` / ``fallback`` as the live
    `EventConsumer` does (same dispatch, same ledger: an event applied once), into ``db``.
    A handler that fails is logged and counted (the live consumer would have retried, then
    dead-lettered it); the replay goes on."""
    ledger = ProcessedEvents(db, group)
    read = applied = failed = 0
    async for events in read_to_end(bootstrap_servers, topics, tenants=tenants):
        for event in events:
            read += 1
            try:
                apply = application(event, handlers, fallback)
            except MalformedEvent:
                continue
            if apply is None or await ledger.seen(event.id):
                continue
            try:
                await apply()
            except Exception:
                failed += 1
                log.exception("replayed event failed", extra={"event_id": event.id})
                await ledger.record(event, "dead_lettered")
                continue
            await ledger.record(event, "applied")
            applied += 1
    return ReplayCounts(read=read, applied=applied, failed=failed)


Build = Callable[[AsyncDatabase[Document]], tuple[Mapping[str, Handler], FallbackHandler | None]]


@dataclass(frozen=True)
class ReplaySpec:
    """What one service rebuilds and how (see the module docstring)."""

    service: str
    topics: Sequence[str]
    # The read models: collection → fields left out of the comparison, each for a reason
    # written next to the spec (only what legitimately differs between live and a rebuild).
    read_models: Mapping[str, frozenset[str]]
    indexes: Mapping[str, Sequence[IndexModel]]
    build: Build | None = None  # the live consumer's handlers, bound to a database
    # The whole replay when the service does not go through `EventConsumer` (insights).
    custom: (
        Callable[[AsyncDatabase[Document], str, Collection[str] | None], Awaitable[ReplayCounts]]
        | None
    ) = None
    # Copy the service's own collections first (its handlers read them).
    seed: bool = False
    # The service's own fields written on read-model documents by its use cases, carried
    # from live (collection → field names).
    own_fields: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Own collections compared too (the seed must come out of the replay unchanged), with
    # the fields left out of their comparison.
    own_compared: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class ReplayResult:
    database: str
    counts: ReplayCounts
    seeded: int
    seconds: float


async def _carry_own_fields(
    live: AsyncDatabase[Document],
    target: AsyncDatabase[Document],
    own_fields: Mapping[str, Sequence[str]],
    tenants: Collection[str] | None,
) -> None:
    for name, fields in own_fields.items():
        projection = {**dict.fromkeys(fields, 1), "tenant_id": 1}
        query = {**_of_tenants(tenants), "$or": [{f: {"$exists": True}} for f in fields]}
        async for doc in CrossTenant(live)[name].find(query, projection):
            values = {f: doc[f] for f in fields if f in doc}
            if values:
                await CrossTenant(target)[name].update_one(
                    {"_id": doc["_id"], "tenant_id": doc.get("tenant_id")}, {"$set": values}
                )


async def replay_service(
    spec: ReplaySpec,
    live: AsyncDatabase[Document],
    target: AsyncDatabase[Document],
    bootstrap_servers: str,
    tenants: Collection[str] | None = None,
) -> ReplayResult:
    """Rebuild ``spec``'s read models into the empty ``target`` (see the module docstring);
    only those of ``tenants`` when given (their events, their seed)."""
    started = time.monotonic()
    await ensure_empty(target)
    await ensure_indexes(target, dict(spec.indexes))
    seeded = 0
    if spec.seed:
        names = [
            name
            for name in await live.list_collection_names()
            if name not in spec.read_models
            and name not in BOOKKEEPING
            and not name.startswith("system.")
        ]
        seeded = await copy_collections(live, target, sorted(names), tenants=tenants)
    if spec.custom is not None:
        counts = await spec.custom(target, bootstrap_servers, tenants)
    else:
        assert spec.build is not None
        handlers, fallback = spec.build(target)
        counts = await replay_handlers(
            target,
            bootstrap_servers,
            spec.topics,
            handlers,
            fallback,
            group=spec.service,
            tenants=tenants,
        )
    await _carry_own_fields(live, target, spec.own_fields, tenants)
    # Live published these already; a rebuild must never announce them a second time.
    await target[OUTBOX_COLLECTION].delete_many({})
    return ReplayResult(target.name, counts, seeded, time.monotonic() - started)


@dataclass(frozen=True)
class Difference:
    collection: str
    id: Any
    live: Document | None
    rebuilt: Document | None

    def __str__(self) -> str:
        if self.live is None or self.rebuilt is None:
            where = "live only" if self.rebuilt is None else "rebuilt only"
            return f"{self.collection}/{self.id}: {where}"
        fields = sorted(
            k
            for k in set(self.live) | set(self.rebuilt)
            if self.live.get(k, ...) != self.rebuilt.get(k, ...)
        )
        shown = {k: (self.live.get(k), self.rebuilt.get(k)) for k in fields}
        return f"{self.collection}/{self.id}: (live, rebuilt) {shown}"


async def compare(
    live: AsyncDatabase[Document],
    rebuilt: AsyncDatabase[Document],
    collections: Mapping[str, frozenset[str]],
    query: Document | None = None,
) -> tuple[list[Difference], int]:
    """Every document that differs between ``live`` and ``rebuilt`` in ``collections``
    (matching ``query``, e.g. some tenants), ignoring the named fields; and how many
    documents were compared."""
    differences: list[Difference] = []
    compared = 0
    for name, ignored in collections.items():

        def comparable(doc: Document, ignored: frozenset[str] = ignored) -> Document:
            return {k: v for k, v in doc.items() if k not in ignored}

        live_docs = {
            d["_id"]: comparable(d) async for d in CrossTenant(live)[name].find(query or {})
        }
        rebuilt_docs = {
            d["_id"]: comparable(d) async for d in CrossTenant(rebuilt)[name].find(query or {})
        }
        compared += len(live_docs)
        for key in sorted(set(live_docs) | set(rebuilt_docs), key=str):
            a, b = live_docs.get(key), rebuilt_docs.get(key)
            if a != b:
                differences.append(Difference(name, key, a, b))
    return differences, compared


def compared_collections(spec: ReplaySpec) -> dict[str, frozenset[str]]:
    return {**spec.read_models, **spec.own_compared}


async def run(spec: ReplaySpec, argv: Sequence[str] | None = None) -> int:
    """The entry point behind ``python -m crm_<svc>.adapters.replay``: rebuild, then compare
    with live (exit status 1 when they differ). ``MONGODB_URI``, ``MONGODB_DATABASE`` (live,
    default ``crm_<svc>``) and ``KAFKA_BOOTSTRAP_SERVERS`` as for the service."""
    parser = argparse.ArgumentParser(description=f"Rebuild {spec.service}'s read models.")
    live_default = os.environ.get("MONGODB_DATABASE") or f"crm_{spec.service.replace('-', '_')}"
    parser.add_argument("--live", default=live_default, help="the live database (compared)")
    parser.add_argument(
        "--database", default=None, help="an empty database to fill (default: <live>_rebuilt)"
    )
    parser.add_argument("--no-compare", action="store_true", help="rebuild only")
    parser.add_argument(
        "--tenant",
        action="append",
        default=None,
        help="rebuild and compare only this tenant (repeatable; default: every tenant)",
    )
    parser.add_argument(
        "--drop-first", action="store_true", help="drop the target database before (careful)"
    )
    args = parser.parse_args(argv)
    target_name = args.database or f"{args.live}{REBUILT_SUFFIX}"
    if target_name == args.live:
        parser.error("the target must not be the live database")
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    client: AsyncMongoClient[Document] = create_client(uri, f"{spec.service}-replay")
    try:
        if args.drop_first:
            await client.drop_database(target_name)
        tenants = set(args.tenant) if args.tenant else None
        result = await replay_service(
            spec, client[args.live], client[target_name], bootstrap, tenants
        )
        print(
            f"{spec.service}: read {result.counts.read} events, applied {result.counts.applied}"
            f" ({result.counts.failed} failed), seeded {result.seeded} own documents, into"
            f" {target_name} in {result.seconds:.1f} s"
        )
        if args.no_compare:
            return 0
        differences, compared = await compare(
            client[args.live],
            client[target_name],
            compared_collections(spec),
            _of_tenants(tenants) or None,
        )
        for difference in differences[:50]:
            print(difference)
        print(f"compared {compared} documents: {len(differences)} differ")
        return 1 if differences or result.counts.failed else 0
    finally:
        await client.close()


def main(spec: ReplaySpec) -> None:
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    raise SystemExit(asyncio.run(run(spec)))


__all__ = [
    "BOOKKEEPING",
    "Difference",
    "NotEmpty",
    "ReplayCounts",
    "ReplayResult",
    "ReplaySpec",
    "compare",
    "copy_collections",
    "main",
    "partitions_of",
    "read_to_end",
    "replay_handlers",
    "replay_service",
    "run",
]
