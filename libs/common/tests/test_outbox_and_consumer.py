"""The outbox relay and the consumer runner against the real FerretDB and Kafka.

Covers: a change and its event are staged in the outbox and published once the relay runs;
writes keep working while no broker is reachable and the events go out later; a redelivered
event is applied once; a poisoned event lands in the dead-letter topic and the consumer goes on.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import stack
from aiokafka import AIOKafkaConsumer

from crm_common.events.consumer import EventConsumer
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import (
    OUTBOX_COLLECTION,
    OutboxRelay,
    OutboxSignal,
    new_event,
    staged_events,
)
from crm_common.events.topics import TopicSpec, dead_letter_topic, ensure_topics
from crm_common.mongo import create_client

pytestmark = [pytest.mark.e2e]


def _customer_event(tenant: str, customer_id: str) -> CloudEvent:
    return new_event(
        CustomerCreated(
            customer_id=customer_id,
            number="CUS20261123001",
            name=f"Customer {customer_id}",
            status="PENDING_REVIEW",
            owner_id="u1",
            created_at=datetime.now(UTC),
        ),
        source="crm/test",
        tenant_id=tenant,
        key=customer_id,
    )


async def _wait_for(predicate: Any, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_outbox_survives_an_unreachable_broker_then_delivers_once(
    infra: stack.StackConfig,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    group = f"test-{uuid.uuid4().hex[:8]}"
    # A topic of its own, so the services of the e2e stack never see these events.
    topic = f"crm.test-{group}.v1"
    routes = {CustomerCreated.event_type: topic}
    await ensure_topics(
        infra.kafka_bootstrap, [TopicSpec(topic, 3), TopicSpec(dead_letter_topic(group), 1)]
    )
    client = create_client(infra.mongodb_uri, "outbox-test")
    db = client[f"crm_test_{uuid.uuid4().hex[:8]}"]
    things = db["things"]
    outbox = db[OUTBOX_COLLECTION]
    signal = OutboxSignal()

    async def insert_with_event(doc_id: str, event: CloudEvent) -> None:
        async with staged_events(db, "things", doc_id, [event]) as staged:
            await things.insert_one({"_id": doc_id, "tenant_id": tenant, **staged.fields})

    # 1. No broker reachable: writes still succeed, events wait in the outbox.
    dead_relay = OutboxRelay(db, ["things"], routes, "127.0.0.1:1", signal, poll_interval_s=0.1)
    await dead_relay.start()
    ids = [f"c{i}" for i in range(20)]
    for customer_id in ids:
        await insert_with_event(customer_id, _customer_event(tenant, customer_id))
        signal.notify()
    await asyncio.sleep(1.0)
    assert await outbox.count_documents({"state": "ready"}) == 20
    await dead_relay.stop()
    assert await outbox.count_documents({"state": "ready"}) == 20

    # 2. The broker is back: a relay publishes every event and empties the outbox.
    relay = OutboxRelay(db, ["things"], routes, infra.kafka_bootstrap, signal, poll_interval_s=0.1)
    await relay.start()

    async def drained() -> bool:
        return await outbox.count_documents({}) == 0

    await _wait_for(drained)
    await relay.stop()
    assert relay.published == 20
    # The business documents only record which events they announced.
    assert [len(doc["_outbox_ids"]) async for doc in things.find({})] == [1] * 20

    # 3. A consumer applies each event exactly once, even when one is delivered twice.
    applied: list[str] = []

    async def handle(event: CloudEvent, payload: EventData) -> None:
        assert event.tenant_id == tenant
        assert isinstance(payload, CustomerCreated)
        if payload.customer_id == "c7":
            raise RuntimeError("poisoned")
        applied.append(payload.customer_id)

    consumer = EventConsumer(
        group=group,
        topics=[topic],
        handlers={CustomerCreated.event_type: handle},
        db=db,
        bootstrap_servers=infra.kafka_bootstrap,
        retry_backoff_s=0.01,
    )
    await consumer.start()

    async def all_applied() -> bool:
        return len(set(applied)) == 19

    await _wait_for(all_applied, timeout_s=60)

    # One new event published twice (as a relay that crashed before deleting it would).
    duplicate = _customer_event(tenant, "c0")
    relay2 = OutboxRelay(db, ["things"], routes, infra.kafka_bootstrap, signal, poll_interval_s=0.1)
    await relay2.start()
    # Then a sentinel under the same key: the same partition, so once it is applied both
    # deliveries of the duplicate have been handled before it.
    sentinel = new_event(
        CustomerCreated(
            customer_id="sentinel",
            number="CUS20261123002",
            name="Sentinel",
            status="PENDING_REVIEW",
            owner_id="u1",
            created_at=datetime.now(UTC),
        ),
        source="crm/test",
        tenant_id=tenant,
        key="c0",
    )
    for doc_id, event in (("replay1", duplicate), ("replay2", duplicate), ("after", sentinel)):
        await insert_with_event(doc_id, event)
        signal.notify()
        await _wait_for(drained)
    await relay2.stop()
    assert relay2.published == 3

    async def sentinel_applied() -> bool:
        return "sentinel" in applied

    await _wait_for(sentinel_applied, timeout_s=60)
    await consumer.stop()

    assert sorted(applied) == sorted([i for i in ids if i != "c7"] + ["c0", "sentinel"])
    # c0's original event, plus the duplicated one applied once although delivered twice.
    assert applied.count("c0") == 2
    assert consumer.dead_lettered == 1

    # The poisoned event is in the group's dead-letter topic with its reason.
    dlq = AIOKafkaConsumer(
        dead_letter_topic(group),
        bootstrap_servers=infra.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"{group}-reader",
    )
    await dlq.start()
    try:
        batch = await dlq.getmany(timeout_ms=10_000)
        records = [r for rs in batch.values() for r in rs]
    finally:
        await dlq.stop()
    assert len(records) == 1
    headers = dict(records[0].headers)
    assert b"poisoned" in headers["crm_dlq_reason"]
    await client.drop_database(db.name)
    await client.close()
