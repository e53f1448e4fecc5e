"""Smoke test: aiokafka against the local Kafka broker.

    uv run --frozen python deploy/local/kafka_smoke.py [--bootstrap 127.0.0.1:9092]

1. creates a fresh 3-partition topic with AIOKafkaAdminClient
2. produces N keyed messages with acks='all', enable_idempotence=True
3. consumes the first half in a consumer group with enable_auto_commit=False and
   an explicit `await consumer.commit()`, then stops that consumer
4. starts a new consumer in the same group and checks it resumes exactly after
   the committed offsets (receives the other half, no duplicates, nothing lost)
5. deletes the topic
Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

N = 60


async def consume(
    bootstrap: str, topic: str, group: str, want: int, budget_s: float
) -> tuple[AIOKafkaConsumer, list[ConsumerRecord]]:
    """Start a manual-commit group consumer and read `want` records (or until budget_s)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=5,
    )
    await consumer.start()
    got: list[ConsumerRecord] = []
    deadline = time.monotonic() + budget_s
    while len(got) < want and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500, max_records=want - len(got))
        for _tp, msgs in batches.items():
            got.extend(msgs)
    return consumer, got


async def main(bootstrap: str) -> int:
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    group = f"smoke-group-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=3, replication_factor=1)])
        meta = await admin.describe_topics([topic])
        parts = meta[0]["partitions"]
        assert len(parts) == 3, f"expected 3 partitions, got {len(parts)}"
        print(f"created topic {topic} with {len(parts)} partitions")

        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            futs = [
                await producer.send(topic, key=f"k{i % 7}".encode(), value=f"v{i}".encode())
                for i in range(N)
            ]
            await producer.flush()
            metas = [await f for f in futs]
        finally:
            await producer.stop()
        per_part = {p: sum(1 for m in metas if m.partition == p) for p in range(3)}
        print(f"produced {N} messages (acks=all, idempotent); per partition {per_part}")

        half = N // 2
        c1, first = await consume(bootstrap, topic, group, half, 30)
        try:
            assert len(first) == half, f"first consumer got {len(first)} of {half}"
            # Commit exactly what was consumed (not the fetch position, which may be ahead).
            offsets: dict[TopicPartition, int] = {}
            for m in first:
                tp = TopicPartition(m.topic, m.partition)
                offsets[tp] = max(offsets.get(tp, 0), m.offset + 1)
            await c1.commit(offsets)
            committed = {tp.partition: await c1.committed(tp) for tp in offsets}
            print(f"consumer 1 read {len(first)} and committed {committed}")
        finally:
            await c1.stop()

        c2, second = await consume(bootstrap, topic, group, N - half, 30)
        try:
            await c2.commit()
        finally:
            await c2.stop()

        seen1 = {(m.partition, m.offset) for m in first}
        seen2 = {(m.partition, m.offset) for m in second}
        values = sorted(int(m.value.decode()[1:]) for m in first + second)
        assert not (seen1 & seen2), f"duplicates after restart: {sorted(seen1 & seen2)[:5]}"
        for m in second:
            tp = TopicPartition(m.topic, m.partition)
            assert m.offset >= offsets.get(tp, 0), f"consumer 2 re-read {m.partition}:{m.offset}"
        assert values == list(range(N)), f"lost or duplicated messages: got {len(values)}"
        print(
            f"consumer 2 (same group) resumed after committed offsets: read {len(second)},"
            " no duplicates, none lost"
        )

        groups = await admin.list_consumer_groups()
        assert any(g[0] == group for g in groups), "consumer group not listed"
        offs = await admin.list_consumer_group_offsets(group)
        total = sum(v.offset for v in offs.values())
        assert total == N, f"group committed offsets sum {total} != {N}"
        print(f"group {group} committed offsets sum to {total}")

        await admin.delete_topics([topic])
    finally:
        await admin.close()

    print(f"OK kafka smoke test passed in {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    default = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or (
        f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
    )
    ap.add_argument("--bootstrap", default=default)
    sys.exit(asyncio.run(main(ap.parse_args().bootstrap)))
