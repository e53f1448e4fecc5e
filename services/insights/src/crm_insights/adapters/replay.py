"""Rebuild every insights read model into an EMPTY database by replaying the topics.

A fresh consumer (unique group id, nothing committed) is assigned every partition of the
subscribed topics, seeks to the beginning and reads up to the end offsets captured when the
replay starts; each record goes through the same projections as the live consumer, with the
same processed-ids ledger. Then every customer is scored once, without publishing (the live
service already announced its crossings).

Period keys are computed in each tenant's CURRENT time zone: before the main pass, a first
pass reads ``crm.customer.v1`` for ``tenant_settings_changed`` events only and fills the
rebuilt database's settings copy (version-guarded, so it ends at the latest settings). So a
replay is also how keys written before a zone change (or before zones existed: UTC) are
migrated. Usage::

    python -m crm_insights.adapters.replay --database crm_insights_rebuilt
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC as CUSTOMER_TOPIC
from crm_common.events.contracts.customer import TenantSettingsChanged
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.mongo import create_client, ensure_indexes
from crm_common.tenants import TENANT_SETTINGS_INDEXES, TenantZones, apply_settings_event
from crm_insights.adapters.batch_consumer import BatchLedger
from crm_insights.adapters.mongo import INDEXES, MongoFactBatchWriter, MongoHealthStore
from crm_insights.adapters.service_reports import INDEXES as SERVICE_REPORT_INDEXES
from crm_insights.service.projections import SUBSCRIBED_TOPICS, apply_events, event_types
from crm_insights.service.scoring import ScoringPass

log = logging.getLogger(__name__)


async def partitions_of(bootstrap_servers: str, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` (a consumer that is not subscribed has no metadata)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if not topic.get("error_code")
        for partition in topic.get("partitions", [])
    )


async def _read_to_end(
    bootstrap_servers: str, topics: list[str]
) -> AsyncIterator[list[CloudEvent]]:
    """Every event of ``topics`` up to the end offsets seen at the start, a poll at a time."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=f"insights-replay-{uuid.uuid4().hex}",
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
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=500)
            events: list[CloudEvent] = []
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    try:
                        events.append(
                            CloudEvent.from_record(
                                record.key, record.value, list(record.headers or [])
                            )
                        )
                    except MalformedEvent:
                        continue
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            yield events
    finally:
        await consumer.stop()


async def replay_tenant_settings(
    db: AsyncDatabase[dict[str, Any]], bootstrap_servers: str, zones: TenantZones
) -> int:
    """The first pass: every tenant's latest settings into ``db``'s copy; returns how many
    settings events were read."""
    seen = 0
    async for events in _read_to_end(bootstrap_servers, [CUSTOMER_TOPIC]):
        for event in events:
            if event.type == TenantSettingsChanged.event_type:
                await apply_settings_event(db, event, event.parse(), zones)
                seen += 1
    return seen


class NotEmpty(Exception):
    """The target database already holds documents: a replay only fills an empty one."""


async def replay_into(
    db: AsyncDatabase[dict[str, Any]], bootstrap_servers: str, topics: list[str] | None = None
) -> int:
    """Replay ``topics`` (default: all insights consumes) into ``db``; returns events applied."""
    if await db.list_collection_names():
        raise NotEmpty(f"database {db.name} is not empty")
    await ensure_indexes(db, {**INDEXES, **SERVICE_REPORT_INDEXES, **TENANT_SETTINGS_INDEXES})
    zones = TenantZones(db)
    await replay_tenant_settings(db, bootstrap_servers, zones)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=f"insights-replay-{uuid.uuid4().hex}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    applied = 0
    try:
        partitions = await partitions_of(bootstrap_servers, topics or SUBSCRIBED_TOPICS)
        if not partitions:
            await consumer.stop()
            return 0
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > await consumer.position(tp)}
        ledger = BatchLedger(db, "insights")
        writer = MongoFactBatchWriter(db)
        wanted = set(event_types())

        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=500)
            # The same batches as the live consumer: one ledger read and one write per
            # collection for a poll's records.
            decoded: dict[str, tuple[CloudEvent, EventData]] = {}
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    try:
                        event = CloudEvent.from_record(
                            record.key, record.value, list(record.headers or [])
                        )
                        if event.type in wanted:
                            decoded.setdefault(event.id, (event, event.parse()))
                    except MalformedEvent:
                        continue  # the live consumer dead-lettered it too
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            seen = await ledger.seen(list(decoded))
            batch = [item for event_id, item in decoded.items() if event_id not in seen]
            await apply_events(batch, writer, zone_of=zones.zone_of)
            await ledger.record([event for event, _ in batch], "applied")
            applied += len(batch)
    finally:
        await consumer.stop()
    store = MongoHealthStore(db)
    await store.mark_all_dirty()
    await ScoringPass(store, emit_events=False).run_until_idle()
    return applied


async def _main(database: str) -> None:
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    client = create_client(uri, "insights-replay")
    try:
        applied = await replay_into(client[database], bootstrap)
    finally:
        await client.close()
    print(f"replayed {applied} events into {database}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="an empty database to fill")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main(args.database))


if __name__ == "__main__":
    main()
