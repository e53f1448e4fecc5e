"""Helpers of the insights e2e tests: publish crafted CloudEvents straight into the stack's
topics (headers exactly as `CloudEvent.headers()` builds them, key = customer id, bodies from
the contract models), read what insights publishes, and query reports through the gateway."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import stack
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from crm_insights.adapters.replay import partitions_of
from tests.e2e.client import GraphQLClient, token_for


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class EventPublisher:
    """Publishes events of one tenant as the producing services would."""

    def __init__(self, producer: AIOKafkaProducer, tenant: str) -> None:
        self._producer = producer
        self.tenant = tenant
        self.sent: list[CloudEvent] = []

    async def publish(self, payload: EventData, key: str) -> CloudEvent:
        source = "crm/" + payload.topic.split(".")[1]
        event = CloudEvent.new(payload, source=source, tenant_id=self.tenant, key=key)
        await self.send(event)
        self.sent.append(event)
        return event

    async def send_at(self, payload: EventData, key: str, time: datetime) -> CloudEvent:
        """Publish with a chosen ``ce_time`` (for facts that take the event's own time)."""
        source = "crm/" + payload.topic.split(".")[1]
        new = CloudEvent.new(payload, source=source, tenant_id=self.tenant, key=key)
        event = dataclasses.replace(new, time=time)
        await self.send(event)
        self.sent.append(event)
        return event

    async def send(self, event: CloudEvent) -> None:
        """Send ``event`` as is (sending a sent one again is a redelivery: same id)."""
        topic = "crm." + event.type.split(".")[1] + ".v1"
        await self._producer.send_and_wait(
            topic, value=event.body(), key=event.key.encode(), headers=event.headers()
        )


@asynccontextmanager
async def producer_for(config: stack.StackConfig) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=config.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def insights_events(config: stack.StackConfig, tenant: str) -> list[CloudEvent]:
    """Every event insights published so far for ``tenant``, in partition order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.kafka_bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = await partitions_of(config.kafka_bootstrap, ["crm.insights.v1"])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        events: list[CloudEvent] = []
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < end[tp]:
                        event = CloudEvent.from_record(
                            record.key, record.value, list(record.headers or [])
                        )
                        if event.tenant_id == tenant:
                            events.append(event)
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return events
    finally:
        await consumer.stop()


def gateway(config: stack.StackConfig, tenant: str, roles: list[str], **kw: Any) -> GraphQLClient:
    return GraphQLClient(config.gateway_url, token_for(config.var_dir, tenant, roles, **kw))


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
