"""The moving parts one service process owns: Mongo client, outbox relay, event consumer.

A composition root builds a `ServiceRuntime`, hands its database to the repositories, and
registers ``startup``/``cleanup`` with the app so shutdown flushes the producer and commits the
consumer's offsets after in-flight requests finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.email import EMAIL_INDEXES, EmailSender, EmailSignal
from crm_common.events.consumer import (
    PROCESSED_COLLECTION,
    EventConsumer,
    FallbackHandler,
    Handler,
)
from crm_common.events.outbox import OUTBOX_INDEXES, OutboxRelay, OutboxSignal
from crm_common.live import LiveFeed
from crm_common.mongo import Document, create_client, ensure_indexes
from crm_common.readiness import MongoReadiness
from crm_common.settings import ServiceSettings

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.client = create_client(
            settings.mongodb_uri, settings.service_name, settings.mongodb_max_pool_size
        )
        self.db: AsyncDatabase[Document] = self.client[settings.database_name]
        self._read_client: AsyncMongoClient[Document] | None = None
        # /readyz pings over a connection of its own: a busy main connection is not a dead
        # database (crm_common.readiness).
        self._readiness = MongoReadiness(settings.mongodb_uri, f"{settings.service_name}-readiness")
        self.outbox_signal = OutboxSignal()
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None
        self.email_signal = EmailSignal()
        self.email_sender: EmailSender | None = None
        self.live: LiveFeed | None = None
        self._indexes: dict[str, Sequence[IndexModel]] = {}

    @property
    def read_db(self) -> AsyncDatabase[Document]:
        """The same database over a client of its own, for read-only queries.

        A service whose one connection is busy with event batches (FerretDB: one connection
        per process, see ``create_client``) would otherwise queue its API reads behind them;
        reads on a second connection cannot lose anyone's update.
        """
        if self._read_client is None:
            self._read_client = create_client(
                self.settings.mongodb_uri,
                f"{self.settings.service_name}-reads",
                self.settings.mongodb_max_pool_size,
            )
        return self._read_client[self.settings.database_name]

    def with_indexes(self, indexes: Mapping[str, Sequence[IndexModel]]) -> ServiceRuntime:
        self._indexes.update(indexes)
        return self

    def with_outbox(self, collections: Sequence[str]) -> ServiceRuntime:
        """Run the outbox relay; ``collections`` are the ones that announce events (only read
        once, to move events still embedded in documents by releases before the queue)."""
        self._indexes.update(OUTBOX_INDEXES)
        self.relay = OutboxRelay(
            self.db,
            collections,
            {},
            self.settings.kafka_bootstrap_servers,
            self.outbox_signal,
            poll_interval_s=self.settings.outbox_poll_interval_s,
        )
        return self

    def with_email(self) -> ServiceRuntime:
        """This service sends e-mail: deliveries' indexes, and (unless EMAIL_SENDER_ENABLED is
        false) a sender in this process, woken by `email_signal` (crm_common.email)."""
        self._indexes.update(EMAIL_INDEXES)
        if self.settings.email_sender_enabled:
            self.email_sender = EmailSender(self.db, self.settings, self.email_signal)
        return self

    def with_consumer(
        self,
        topics: list[str],
        handlers: Mapping[str, Handler],
        fallback: FallbackHandler | None = None,
    ) -> ServiceRuntime:
        """Consume ``topics``; ``fallback`` (optional) gets every event no handler takes."""
        self.consumer = EventConsumer(
            group=self.settings.service_name,
            topics=topics,
            handlers=handlers,
            db=self.db,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            fallback=fallback,
        )
        return self

    def with_live_feed(self, topics: list[str]) -> ServiceRuntime:
        """Run a live feed of ``topics`` for this process's subscriptions (`crm_common.live`):
        a consumer without a group, so every replica sees every event."""
        self.live = LiveFeed(
            topics,
            self.settings.kafka_bootstrap_servers,
            service=self.settings.service_name,
            max_queued=self.settings.live_max_queued,
            fetch_max_wait_ms=self.settings.live_fetch_max_wait_ms,
            max_listeners=self.settings.live_max_listeners,
        )
        return self

    async def startup(self, _: web.Application | None = None) -> None:
        await self._create_indexes()
        if self.relay is not None:
            await self.relay.start()
        if self.consumer is not None and self.settings.kafka_consumer_enabled:
            await self.consumer.start()
        if self.email_sender is not None:
            await self.email_sender.start()
        if self.live is not None and self.settings.kafka_consumer_enabled:
            await self.live.start()

    async def _create_indexes(self) -> None:
        # The database may still be starting (or restarting): keep trying for a while.
        indexes = {**self._indexes}
        if self.consumer is not None:
            indexes.setdefault(PROCESSED_COLLECTION, [])
        for attempt in range(30):
            try:
                await ensure_indexes(self.db, indexes)
                return
            except Exception as exc:
                if attempt == 29:
                    raise
                log.warning("database not ready; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1)

    async def cleanup(self, _: web.Application | None = None) -> None:
        if self.email_sender is not None:
            await self.email_sender.stop()
        if self.live is not None:
            await self.live.stop()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.client.close()
        if self._read_client is not None:
            await self._read_client.close()
        await self._readiness.close()

    async def mongo_ready(self) -> bool:
        return await self._readiness.check()

    async def kafka_ready(self) -> bool:
        relay_ok = self.relay is None or self.relay.connected
        consumer_ok = (
            self.consumer is None
            or not self.settings.kafka_consumer_enabled
            or self.consumer.connected
        )
        return relay_ok and consumer_ok

    def readiness(self) -> dict[str, Any]:
        return {"mongodb": self.mongo_ready, "kafka": self.kafka_ready}
