"""The replay mechanism (`crm_common.events.replay`) against the real store and broker.

Covers: the events of a topic (of the tenants asked for) reach the live consumer's handlers
once each (a duplicate delivery is applied once, through the same ledger), a failing handler
is counted and the replay goes on, only an empty target is filled, the seed copies own
collections but never the read models, ledger or outbox, own fields on read models are carried
from live, the outbox of the rebuild is dropped, and `compare` reports every differing document
but the fields a spec leaves out.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import stack
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC, CustomerCreated, CustomerDeleted
from crm_common.events.envelope import CloudEvent
from crm_common.events.replay import (
    NotEmpty,
    ReplaySpec,
    compare,
    replay_service,
)
from crm_common.mongo import Document, create_client

pytestmark = [pytest.mark.e2e]

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def mongo(infra: stack.StackConfig) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = create_client(infra.mongodb_uri, "replay-test", max_pool_size=1)
    try:
        yield client
    finally:
        for name in await client.list_database_names():
            if name.startswith(f"crm_test_replay_{RUN}"):
                await client.drop_database(name)
        await client.close()


RUN = uuid.uuid4().hex[:8]


def _db_name(prefix: str) -> str:
    return f"crm_test_replay_{RUN}_{prefix}"


async def _publish(config: stack.StackConfig, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                TOPIC, value=event.body(), key=event.key.encode(), headers=event.headers()
            )
    finally:
        await producer.stop()


def _created(tenant: str, customer_id: str) -> CloudEvent:
    payload = CustomerCreated(
        customer_id=customer_id,
        number="CUS20261201001",
        name=customer_id,
        status="LEAD",
        owner_id="rep",
        created_at=AT,
    )
    # One key for the test's events: one partition, so they are read in the order sent.
    return CloudEvent.new(payload, source="test", tenant_id=tenant, key=tenant)


async def test_replay_feeds_the_handlers_once_seeds_own_data_and_compares(
    infra: stack.StackConfig, mongo: AsyncMongoClient[Document]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    a, b = _created(tenant, "a"), _created(tenant, "b")
    deleted = CloudEvent.new(
        CustomerDeleted(customer_id="b", actor_id="x", deleted_at=AT),
        source="test",
        tenant_id=tenant,
        key=tenant,
    )
    await _publish(infra, [a, a, b, deleted])  # ``a`` delivered twice

    live = mongo[_db_name("live")]
    await live["own"].insert_one({"_id": "o1", "tenant_id": tenant, "x": 1})
    await live["processed_events"].insert_one({"_id": "p", "tenant_id": tenant})
    await live["outbox"].insert_one({"_id": "e", "tenant_id": tenant})
    await live["projection"].insert_many(
        [
            {"_id": "a", "tenant_id": tenant, "n": 1, "mine": "kept"},
            {"_id": "b", "tenant_id": tenant, "n": 2, "at": 1},
        ]
    )

    def build(db: AsyncDatabase[Document]) -> tuple[dict[str, Handler], None]:
        async def created(event: CloudEvent, payload: EventData) -> None:
            assert isinstance(payload, CustomerCreated)
            if event.tenant_id != tenant:
                return
            count = await db["projection"].count_documents({"tenant_id": tenant})
            await db["projection"].update_one(
                {"_id": payload.customer_id, "tenant_id": tenant},
                {"$inc": {"n": count + 1}, "$set": {"at": 2}},
                upsert=True,
            )
            await db["outbox"].insert_one({"_id": event.id, "tenant_id": tenant})

        async def fails(event: CloudEvent, payload: EventData) -> None:
            if event.tenant_id == tenant:
                raise RuntimeError("a handler that fails")

        return {CustomerCreated.event_type: created, CustomerDeleted.event_type: fails}, None

    spec = ReplaySpec(
        service="test",
        topics=[TOPIC],
        read_models={"projection": frozenset({"at"})},
        indexes={},
        build=build,
        seed=True,
        own_fields={"projection": ("mine",)},
    )
    target = mongo[_db_name("rebuilt")]
    result = await replay_service(spec, live, target, infra.kafka_bootstrap, tenants={tenant})

    # This tenant's events only: ``a`` twice (applied once), ``b``, the deletion (fails).
    assert (result.counts.read, result.counts.applied, result.counts.failed) == (4, 2, 1)
    names = set(await target.list_collection_names())
    assert "own" in names and await target["own"].find_one({"_id": "o1"}) is not None
    assert await target["outbox"].count_documents({}) == 0  # staged by handlers, dropped
    assert await target["processed_events"].count_documents({"_id": "p"}) == 0  # not seeded
    mine = {"tenant_id": tenant}
    differences, compared = await compare(live, target, spec.read_models, mine)
    # ``a`` applied once (n = 1), carrying its own field; ``b`` after it (n = 2); ``at``
    # differs and is ignored.
    assert (differences, compared) == ([], 2)

    await target["projection"].update_one({"_id": "b"}, {"$set": {"n": 3}})
    differences, _ = await compare(live, target, spec.read_models, mine)
    assert [(d.collection, d.id) for d in differences] == [("projection", "b")]
    assert "'n': (2, 3)" in str(differences[0])

    with pytest.raises(NotEmpty):
        await replay_service(spec, live, target, infra.kafka_bootstrap, tenants={tenant})
