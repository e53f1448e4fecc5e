"""Helpers shared by the engagement e2e tests: customers, Kafka publishing and reading."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import stack
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from crm_common.events.envelope import CloudEvent
from tests.e2e.client import GraphQLClient, eventually, token_for

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }
"""
LOG = """
mutation Log($input: LogInteractionInput!) {
  logInteraction(input: $input) {
    interaction { id customerId kind content occurredAt participants { kind name email phone }
                  attachments { fileId name } corrections { text } editedAt }
    proposedFollowUp { priority intervalDays dueAt }
  }
}
"""


def client(config: stack.StackConfig, tenant: str, roles: list[str], **kw: Any) -> GraphQLClient:
    return GraphQLClient(config.gateway_url, token_for(config.var_dir, tenant, roles, **kw))


async def known_customer(owner: GraphQLClient, name: str) -> str:
    """A customer that engagement has heard of (its created event has arrived)."""
    data = (await owner.execute(CREATE_CUSTOMER, {"input": {"name": name}})).ok()
    customer_id: str = data["createCustomer"]["customer"]["id"]

    async def known() -> bool:
        response = await owner.execute(
            "query($id: ID!) { proposedFollowUp(customerId: $id) { priority } }",
            {"id": customer_id},
        )
        return not response.errors

    await eventually(known)
    return customer_id


async def log(client: GraphQLClient, customer_id: str, **fields: Any) -> dict[str, Any]:
    payload = {"customerId": customer_id, "kind": "PHONE_CALL", "content": "call", **fields}
    result: dict[str, Any] = (await client.execute(LOG, {"input": payload})).ok()["logInteraction"]
    return result


def crafted_event(
    event_type: str, tenant: str, customer_id: str, data: dict[str, Any], at: datetime
) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        type=event_type,
        source="crm/e2e-test",
        time=at.astimezone(UTC),
        tenant_id=tenant,
        key=customer_id,
        data=data,
    )


async def publish(config: stack.StackConfig, topic: str, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic, value=event.body(), key=event.key.encode(), headers=event.headers()
            )
    finally:
        await producer.stop()


async def read_topic(config: stack.StackConfig, topic: str) -> list[CloudEvent]:
    """Every event on the topic so far (no consumer group: nothing is committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        events: list[CloudEvent] = []

        async def behind() -> bool:
            positions = [await consumer.position(tp) for tp in partitions]
            return any(pos < ends[tp] for pos, tp in zip(positions, partitions, strict=True))

        while await behind():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    events.append(
                        CloudEvent.from_record(record.key, record.value, list(record.headers))
                    )
        return events
    finally:
        await consumer.stop()
