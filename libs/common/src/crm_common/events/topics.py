"""The topics of the suite and their creation (the broker does not auto-create topics)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

SERVICES = ("customer", "engagement", "quoting", "servicedesk", "insights")
CONSUMER_GROUPS = (
    "customer",
    "engagement",
    "engagement-webhooks",
    "quoting",
    "service-desk",
    "insights",
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int = 3
    retention_ms: int = -1  # event topics are the system of record for replays: keep forever


def service_topic(service: str) -> str:
    return f"crm.{service}.v1"


def dead_letter_topic(group: str) -> str:
    return f"crm.dlq.{group}"


def all_topics(partitions: int = 3) -> list[TopicSpec]:
    topics = [TopicSpec(service_topic(s), partitions) for s in SERVICES]
    topics += [
        TopicSpec(dead_letter_topic(g), 1, retention_ms=30 * 24 * 3600 * 1000)
        for g in CONSUMER_GROUPS
    ]
    return topics


async def ensure_topics(
    bootstrap_servers: str,
    topics: list[TopicSpec] | None = None,
    replication_factor: int = 1,
) -> None:
    """Create any missing topic; existing ones are left as they are."""
    topics = topics or all_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if not missing:
            return
        new_topics = [
            NewTopic(
                name=t.name,
                num_partitions=t.partitions,
                replication_factor=replication_factor,
                topic_configs={"retention.ms": str(t.retention_ms)},
            )
            for t in missing
        ]
        # Another process may have created them first.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new_topics)
        log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()


def main() -> None:
    import os

    asyncio.run(
        ensure_topics(
            os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            partitions_from_env(),
            int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1")),
        )
    )


def partitions_from_env() -> list[TopicSpec]:
    import os

    return all_topics(int(os.environ.get("KAFKA_TOPIC_PARTITIONS", "3")))


if __name__ == "__main__":
    main()
