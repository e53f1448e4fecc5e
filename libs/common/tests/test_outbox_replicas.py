"""The outbox with several replicas, against the real FerretDB and Kafka.

Covers: three relays (three "replicas", each with its own single connection, as in production
on FerretDB) and writes appending events to ONE document, interleaved, deliver every event and
never touch the business document (the earlier design, a pending counter in the document that
each relay lowered, lost 20 of 60 events here); a writer that died between staging and marking
ready: the sweep publishes the event whose write landed and drops the one whose write never
did, after the grace periods.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
import stack
from aiokafka import AIOKafkaConsumer

from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import (
    IDS_FIELD,
    OUTBOX_COLLECTION,
    OutboxRelay,
    OutboxSignal,
    StagedEvents,
    new_event,
    staged_events,
)
from crm_common.events.topics import TopicSpec, ensure_topics
from crm_common.mongo import create_client

pytestmark = [pytest.mark.e2e]


def _event(tenant: str, key: str, n: int) -> CloudEvent:
    return new_event(
        CustomerCreated(
            customer_id=key,
            number=f"CUS20261123{n:03d}",
            name=f"Customer {n}",
            status="PENDING_REVIEW",
            owner_id="u1",
            created_at=datetime.now(UTC),
        ),
        source="crm/test",
        tenant_id=tenant,
        key=key,
    )


async def _wait_for(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


class _Reader:
    """Collects the ids of the events on a topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=f"reader-{uuid.uuid4().hex[:8]}",
        )
        self.seen: list[str] = []

    async def __aenter__(self) -> _Reader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> set[str]:
        batch = await self._consumer.getmany(timeout_ms=200)
        for records in batch.values():
            self.seen.extend(dict(r.headers)["ce_id"].decode() for r in records)
        return set(self.seen)


async def test_three_relays_and_interleaved_writes_on_one_document_lose_nothing(
    infra: stack.StackConfig,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    topic = f"crm.test-race-{uuid.uuid4().hex[:8]}.v1"
    routes = {CustomerCreated.event_type: topic}
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(topic, 1)])
    db_name = f"crm_test_{uuid.uuid4().hex[:8]}"
    # Three replicas: a client with one connection, a writer id and a relay each.
    clients = [create_client(infra.mongodb_uri, f"replica-{i}", 1) for i in range(3)]
    dbs = [c[db_name] for c in clients]
    writers = [f"replica-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    signals = [OutboxSignal() for _ in clients]
    relays = [
        OutboxRelay(
            db, ["things"], routes, infra.kafka_bootstrap, signal,
            poll_interval_s=0.05, writer=writer, sweep_interval_s=0.2,
        )
        for db, signal, writer in zip(dbs, signals, writers, strict=True)
    ]  # fmt: skip
    written: list[str] = []
    first = _event(tenant, "doc", 0)
    async with staged_events(dbs[0], "things", "doc", [first], writer=writers[0]) as staged:
        await dbs[0]["things"].insert_one({"_id": "doc", "tenant_id": tenant, **staged.fields})
    written.append(first.id)
    for relay in relays:
        await relay.start()
    try:
        # Each write goes through the next replica; all relays run meanwhile.
        for n in range(1, 60):
            i = n % 3
            event = _event(tenant, "doc", n)
            async with staged_events(dbs[i], "things", "doc", [event], writer=writers[i]) as s:
                await dbs[i]["things"].update_one(
                    {"_id": "doc"}, s.merged({"$set": {"n": n}, "$inc": {"writes": 1}})
                )
            written.append(event.id)
            signals[i].notify()
            await asyncio.sleep(0.01)

        async with _Reader(infra.kafka_bootstrap, topic) as reader:

            async def all_delivered() -> bool:
                return set(written) <= await reader.poll()

            await _wait_for(all_delivered, timeout_s=90)

        async def drained() -> bool:
            return await dbs[0][OUTBOX_COLLECTION].count_documents({}) == 0

        await _wait_for(drained)
    finally:
        for relay in relays:
            await relay.stop()
    doc = await dbs[0]["things"].find_one({"_id": "doc"})
    assert doc is not None
    # The relays never wrote the business document: every write of it is there.
    assert (doc["n"], doc["writes"]) == (59, 59)
    assert "_outbox_pending" not in doc and "_outbox" not in doc
    assert set(doc[IDS_FIELD][-50:]) <= set(written)
    assert sum(r.published for r in relays) >= len(written)
    await clients[0].drop_database(db_name)
    for client in clients:
        await client.close()


async def test_sweep_publishes_what_a_dead_writer_landed_and_drops_what_never_landed(
    infra: stack.StackConfig,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    topic = f"crm.test-sweep-{uuid.uuid4().hex[:8]}.v1"
    routes = {CustomerCreated.event_type: topic}
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(topic, 1)])
    client = create_client(infra.mongodb_uri, "sweep-test", 1)
    db = client[f"crm_test_{uuid.uuid4().hex[:8]}"]
    things, outbox = db["things"], db[OUTBOX_COLLECTION]
    dead = "dead-writer"

    # The dead writer: "landed" staged and written, never marked ready (died in between);
    # "never" staged only (died before its write); "ready" fully done, never published.
    landed, never, ready = (_event(tenant, k, n) for n, k in enumerate(["a", "b", "c"]))
    s1 = StagedEvents(db, "things", {"a": [landed]}, writer=dead)
    await s1.prepare()
    await things.insert_one({"_id": "a", "tenant_id": tenant, **s1.fields})
    await StagedEvents(db, "things", {"b": [never]}, writer=dead).prepare()
    s3 = StagedEvents(db, "things", {"c": [ready]}, writer=dead)
    await s3.prepare()
    await things.insert_one({"_id": "c", "tenant_id": tenant, **s3.fields})
    await s3.commit()
    assert await outbox.count_documents({"state": "prepared"}) == 2

    def relay(expiry_s: float) -> OutboxRelay:
        return OutboxRelay(
            db, ["things"], routes, infra.kafka_bootstrap, OutboxSignal(),
            poll_interval_s=0.05, writer="live-writer", sweep_interval_s=0.1,
            ready_grace_s=0.5, prepared_check_s=0.5, prepared_expiry_s=expiry_s,
        )  # fmt: skip

    async with _Reader(infra.kafka_bootstrap, topic) as reader:
        # 1. Within the expiry: the landed and the ready one go out, the other one waits.
        patient = relay(expiry_s=600)
        await patient.start()

        async def two_out() -> bool:
            return {landed.id, ready.id} <= await reader.poll()

        await _wait_for(two_out)

        async def only_unlanded_left() -> bool:
            return [d["_id"] async for d in outbox.find({})] == [never.id]

        await _wait_for(only_unlanded_left)
        await patient.stop()

        # 2. Past the expiry: the entry of the write that never landed is dropped, unpublished.
        hasty = relay(expiry_s=1.0)
        await hasty.start()

        async def empty() -> bool:
            return await outbox.count_documents({}) == 0

        await _wait_for(empty)
        await hasty.stop()
        await reader.poll()
        assert never.id not in reader.seen
        assert sorted(reader.seen) == sorted([landed.id, ready.id])
    await client.drop_database(db.name)
    await client.close()
