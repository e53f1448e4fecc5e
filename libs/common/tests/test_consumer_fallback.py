"""The consumer's optional fallback: events without a handler (or a contract) reach it once.

Typed handlers keep precedence; without a fallback such events are still skipped as before.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import stack
from aiokafka import AIOKafkaProducer
from pymongo.errors import AutoReconnect
from tests.e2e.client import eventually

from crm_common.events.consumer import EventConsumer
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent
from crm_common.events.topics import TopicSpec, dead_letter_topic, ensure_topics
from crm_common.mongo import create_client

pytestmark = [pytest.mark.e2e]


def _event(event_type: str, data: dict[str, object]) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        type=event_type,
        source="crm/test",
        time=datetime.now(UTC),
        tenant_id="t1",
        key="c1",
        data=data,
    )


async def test_fallback_gets_unhandled_types_once(infra: stack.StackConfig) -> None:
    group = f"test-{uuid.uuid4().hex[:8]}"
    topic = f"crm.test-{group}.v1"
    await ensure_topics(
        infra.kafka_bootstrap, [TopicSpec(topic, 1), TopicSpec(dead_letter_topic(group), 1)]
    )
    client = create_client(infra.mongodb_uri, "fallback-test")
    db = client[f"crm_test_{uuid.uuid4().hex[:8]}"]

    def created_event() -> CloudEvent:
        return _event(
            CustomerCreated.event_type,
            {
                "customer_id": "c1",
                "number": "CUS20261123001",
                "name": "C",
                "status": "PENDING_REVIEW",
                "owner_id": "u1",
                "created_at": datetime.now(UTC).isoformat(),
            },
        )

    created, sentinel = created_event(), created_event()
    unknown = _event("crm.somewhere.something_new", {"customer_id": "c1", "free": "form"})
    typed: list[str] = []
    fallback: list[str] = []

    async def handle(event: CloudEvent, payload: EventData) -> None:
        typed.append(event.id)

    async def catch_all(event: CloudEvent) -> None:
        fallback.append(event.type)

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    # The unknown one is delivered twice; the sentinel (one partition: in order) comes last.
    for event in (created, unknown, unknown, sentinel):
        await producer.send_and_wait(
            topic, value=event.body(), key=event.key.encode(), headers=event.headers()
        )
    await producer.stop()

    consumer = EventConsumer(
        group=group,
        topics=[topic],
        handlers={CustomerCreated.event_type: handle},
        db=db,
        bootstrap_servers=infra.kafka_bootstrap,
        fallback=catch_all,
    )
    await consumer.start()

    async def sentinel_seen() -> bool:
        return sentinel.id in typed

    await eventually(sentinel_seen)
    await consumer.stop()
    assert typed == [created.id, sentinel.id]
    assert fallback == ["crm.somewhere.something_new"]
    assert consumer.dead_lettered == 0
    await client.drop_database(db.name)
    await client.close()


async def test_a_database_outage_delays_an_event_instead_of_dead_lettering_it(
    infra: stack.StackConfig,
) -> None:
    """Connection errors mean the database is away, not that the event is bad: the event waits
    (beyond max_attempts) and is applied once when the database answers again."""
    group = f"test-{uuid.uuid4().hex[:8]}"
    topic = f"crm.test-{group}.v1"
    await ensure_topics(
        infra.kafka_bootstrap, [TopicSpec(topic, 1), TopicSpec(dead_letter_topic(group), 1)]
    )
    client = create_client(infra.mongodb_uri, "outage-test")
    db = client[f"crm_test_{uuid.uuid4().hex[:8]}"]
    event = _event(
        CustomerCreated.event_type,
        {
            "customer_id": "c1",
            "number": "CUS20261123001",
            "name": "C",
            "status": "PENDING_REVIEW",
            "owner_id": "u1",
            "created_at": datetime.now(UTC).isoformat(),
        },
    )
    calls: list[str] = []
    applied: list[str] = []

    async def handle(received: CloudEvent, payload: EventData) -> None:
        calls.append(received.id)
        if len(calls) <= 6:  # more outage errors than max_attempts (2) allows failures
            raise AutoReconnect("connection refused")
        applied.append(received.id)

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(
        topic, value=event.body(), key=event.key.encode(), headers=event.headers()
    )
    await producer.stop()
    consumer = EventConsumer(
        group=group,
        topics=[topic],
        handlers={CustomerCreated.event_type: handle},
        db=db,
        bootstrap_servers=infra.kafka_bootstrap,
        max_attempts=2,
        retry_backoff_s=0.01,
    )
    await consumer.start()

    async def applied_once() -> bool:
        return applied == [event.id]

    await eventually(applied_once)
    await consumer.stop()
    assert consumer.dead_lettered == 0
    assert len(calls) == 7
    await client.drop_database(db.name)
    await client.close()
