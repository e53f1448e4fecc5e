"""Insights' own consume rate: events published straight to Kafka → insights read model.

The end-to-end benchmark (`event_lag.py`) is bounded by the customer service's create rate on
FerretDB; this one takes the customer service out. It starts FerretDB and Kafka on the ports of
one slot (``--slot``), runs insights' consumer and scoring pass in this process (one Mongo
connection, as the stack gives each service on FerretDB), publishes ``customer.created`` events
at ``--rate`` per second for ``--duration`` seconds, and measures for each one the time from
its Kafka record timestamp until insights' ``customers`` document exists (polled every
``--poll-ms``), plus the rate at which the backlog drained.

``--consumer batch`` is insights' consumer (a poll's records in one batch); ``--consumer
single`` is the common one-event-at-a-time consumer it replaced, for a before/after figure.

    uv run python services/insights/bench/consume_rate.py --slot 6 --rate 200 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack  # noqa: E402
from event_lag import _summary  # noqa: E402

from crm_common.clock import utc_now  # noqa: E402
from crm_common.events.consumer import EventConsumer  # noqa: E402
from crm_common.events.contracts.base import EventData  # noqa: E402
from crm_common.events.contracts.customer import CustomerCreated  # noqa: E402
from crm_common.events.envelope import CloudEvent  # noqa: E402
from crm_common.mongo import create_client, ensure_indexes  # noqa: E402
from crm_insights.adapters.batch_consumer import BatchEventConsumer  # noqa: E402
from crm_insights.adapters.mongo import INDEXES, MongoFactWriter, MongoHealthStore  # noqa: E402
from crm_insights.adapters.scheduler import ScoringScheduler  # noqa: E402
from crm_insights.service.projections import (  # noqa: E402
    SUBSCRIBED_TOPICS,
    apply_event,
    event_types,
)
from crm_insights.service.scoring import ScoringPass  # noqa: E402

REGIONS = ["广东", "浙江", "北京"]
SOURCES = ["WEBSITE", "EXHIBITION", "REFERRAL"]


def config_for(slot: int) -> stack.StackConfig:
    return stack.StackConfig.for_slot(
        slot,
        REPO / "var" / f"bench-consume-{slot}",
    )


def single_consumer(db: Any, bootstrap: str, on_dirty: Any) -> EventConsumer:
    """The consumer insights used before: one event at a time through the common runner."""

    def writer(tenant_id: str) -> MongoFactWriter:
        return MongoFactWriter(db, tenant_id)

    async def handle(event: CloudEvent, payload: EventData) -> None:
        await apply_event(event, payload, writer, on_dirty)

    return EventConsumer(
        group="insights",
        topics=SUBSCRIBED_TOPICS,
        handlers=dict.fromkeys(event_types(), handle),
        db=db,
        bootstrap_servers=bootstrap,
    )


async def publish(
    bootstrap: str, tenant: str, rate: float, duration_s: float, sent_at: dict[str, float]
) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        started = time.perf_counter()
        total = int(rate * duration_s)
        pending = []
        for n in range(total):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            customer_id = str(uuid.uuid4())
            payload = CustomerCreated(
                customer_id=customer_id,
                number=f"CUS20261123{n:05d}",
                name=f"Consume Co {n}",
                status="PENDING_REVIEW",
                owner_id="bench-rep",
                created_at=utc_now(),
                customer_type="POTENTIAL",
                region_province=REGIONS[n % len(REGIONS)],
                source_channel=SOURCES[n % len(SOURCES)],
            )
            event = CloudEvent.new(payload, source="bench", tenant_id=tenant, key=customer_id)
            sent_at[customer_id] = time.time()
            pending.append(
                await producer.send(
                    payload.topic,
                    value=event.body(),
                    key=customer_id.encode(),
                    headers=event.headers(),
                )
            )
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def watch(
    db: Any,
    tenant: str,
    sent_at: dict[str, float],
    lags: dict[str, float],
    poll_s: float,
    done: asyncio.Event,
) -> None:
    customers = db["customers"]
    while True:
        pending = [cid for cid in sent_at if cid not in lags]
        if pending:
            now = time.time()
            query = {"_id": {"$in": pending[:2000]}, "tenant_id": tenant}
            async for doc in customers.find(query, {"_id": 1}):
                lags[doc["_id"]] = (now - sent_at[doc["_id"]]) * 1000
        elif done.is_set():
            return
        await asyncio.sleep(poll_s)


async def measure(config: stack.StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    # Insights' connection (one, as on the stack) and the watcher's own.
    client = create_client(config.mongodb_uri, "insights", max_pool_size=1)
    watcher_client = create_client(config.mongodb_uri, "consume-bench")
    db = client["crm_insights"]
    await ensure_indexes(db, {**INDEXES, "processed_events": []})
    consumer: BatchEventConsumer | EventConsumer
    if args.consumer == "batch":
        consumer = BatchEventConsumer(
            group="insights",
            topics=SUBSCRIBED_TOPICS,
            db=db,
            bootstrap_servers=config.kafka_bootstrap,
            on_dirty=lambda: scheduler.notify(),
        )
        scoring = ScoringPass(MongoHealthStore(db), yield_to=consumer.wait_idle)
    else:
        consumer = single_consumer(db, config.kafka_bootstrap, lambda: scheduler.notify())
        scoring = ScoringPass(MongoHealthStore(db))
    scheduler = ScoringScheduler(scoring, interval_s=30)
    if args.scoring:
        await scheduler.start()
    if args.profile and isinstance(consumer, BatchEventConsumer):
        handle = consumer.handle_batch

        async def timed(records: Any, *rest: Any) -> None:
            began = time.perf_counter()
            await handle(records, *rest)
            ms = (time.perf_counter() - began) * 1000
            print(f"batch of {len(records)}: {ms:.0f} ms", file=sys.stderr)

        consumer.handle_batch = timed  # type: ignore[method-assign]
    await consumer.start()
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    sent_at: dict[str, float] = {}
    lags: dict[str, float] = {}
    done = asyncio.Event()
    try:
        # Warm-up: the consumer joins its group, reads from the start and gets past the first
        # records after its assignment (those it checks against the ledger one by one).
        await publish(config.kafka_bootstrap, f"{tenant}-warm", args.rate, args.warmup, {})
        await asyncio.sleep(5)
        watcher = asyncio.create_task(
            watch(watcher_client["crm_insights"], tenant, sent_at, lags, args.poll_ms / 1000, done)
        )
        started = time.perf_counter()
        published_s = await publish(
            config.kafka_bootstrap, tenant, args.rate, args.duration, sent_at
        )
        done.set()
        try:
            await asyncio.wait_for(watcher, timeout=args.drain_timeout)
        except TimeoutError:
            watcher.cancel()
        drained_s = time.perf_counter() - started
    finally:
        await consumer.stop()
        await scheduler.stop()
        await client.close()
        await watcher_client.close()
    arrived = list(lags.values())
    return {
        "consumer": args.consumer,
        "target_rate_per_s": args.rate,
        "published": len(sent_at),
        "publish_s": round(published_s, 2),
        "arrived_in_read_model": len(arrived),
        "all_arrived_after_s": round(drained_s, 2) if len(arrived) == len(sent_at) else None,
        "consume_rate_per_s": round(len(arrived) / drained_s, 1) if drained_s else 0,
        "kafka_to_read_model_ms": _summary(arrived),
        "poll_interval_ms": args.poll_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consumer", choices=["batch", "single"], default="batch")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of publishing")
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--slot", type=int, default=9)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up load")
    parser.add_argument("--no-scoring", dest="scoring", action="store_false")
    parser.add_argument("--profile", action="store_true", help="print each batch's time")
    parser.add_argument("--keep-infra", action="store_true", help="reuse a running FerretDB/Kafka")
    args = parser.parse_args()
    config = config_for(args.slot)
    if not args.keep_infra:
        stack.infra(config, "down")
        shutil.rmtree(config.var_dir, ignore_errors=True)
        config.var_dir.mkdir(parents=True)
        stack.infra(config, "up")
        stack.ensure_topics(config)
    try:
        figures = asyncio.run(measure(config, args))
    finally:
        if not args.keep_infra:
            stack.infra(config, "down")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
