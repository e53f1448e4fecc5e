"""Webhook storage (Mongo) and the partner-facing HTTP client.

Collections: ``webhook_endpoints`` (secrets included: they sign every delivery),
``webhook_deliveries`` (one per event and endpoint, ``_id`` derived from both) and
``webhook_attempts`` (the delivery log: ``_id = "<delivery>:<n>"``, inserted to claim attempt n).

The HTTP client resolves the host itself and connects only to addresses that pass
`crm_engagement.domain.webhook.address_allowed` (unless private networks are allowed), so a
name that resolved to a public address at registration and to 127.0.0.1 now (DNS rebinding)
is refused at delivery time; the connection goes to the very address that was checked.
Redirects are not followed, proxies from the environment are not used, the whole call has a
timeout and only the first bytes of the answer are read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from crm_common.events.consumer import KafkaConsumerLoop
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.mongo import CrossTenant, Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey
from crm_engagement.domain.webhook import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    SigningSecret,
    WebhookDelivery,
    WebhookEndpoint,
    address_allowed,
    parse_endpoint_url,
)
from crm_engagement.service.webhooks import SendResult

ENDPOINTS = "webhook_endpoints"
DELIVERIES = "webhook_deliveries"
ATTEMPTS = "webhook_attempts"

_NEWEST = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]

WEBHOOK_INDEXES: dict[str, list[IndexModel]] = {
    ENDPOINTS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
            name="by_tenant_newest",
        ),
    ],
    DELIVERIES: [
        # The sender's scan (every tenant): PENDING ones by due time.
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due_scan"),
        # The log of one endpoint, newest first; with a status filter; resume's wake-up.
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("endpoint_id", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="by_endpoint_newest",
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("endpoint_id", ASCENDING),
                ("status", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="by_endpoint_status_newest",
        ),
    ],
    ATTEMPTS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("delivery_id", ASCENDING), ("number", ASCENDING)],
            name="by_delivery",
        ),
    ],
}


# -- documents ---------------------------------------------------------------------------


def _endpoint_doc(e: WebhookEndpoint) -> Document:
    return {
        "_id": e.id,
        "tenant_id": e.tenant_id,
        "url": e.url,
        "event_types": list(e.event_types),
        "description": e.description,
        "status": e.status.value,
        "secrets": [
            {"secret": s.secret, "created_at": s.created_at, "expires_at": s.expires_at}
            for s in e.secrets
        ],
        "created_at": e.created_at,
        "created_by": e.created_by,
        "updated_at": e.updated_at,
        "version": e.version,
        "disabled_reason": e.disabled_reason,
    }


def _endpoint_from(doc: Document) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        url=doc["url"],
        event_types=tuple(doc.get("event_types") or ()),
        description=doc.get("description") or "",
        status=EndpointStatus(doc["status"]),
        secrets=tuple(
            SigningSecret(s["secret"], s["created_at"], s.get("expires_at"))
            for s in doc.get("secrets") or ()
        ),
        created_at=doc["created_at"],
        created_by=doc.get("created_by") or "",
        updated_at=doc.get("updated_at") or doc["created_at"],
        version=int(doc.get("version", 1)),
        disabled_reason=doc.get("disabled_reason"),
    )


def _delivery_doc(d: WebhookDelivery) -> Document:
    return {
        "_id": d.id,
        "tenant_id": d.tenant_id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "payload": d.payload,
        "status": d.status.value,
        "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at,
        "attempts": d.attempts,
        "run_attempts": d.run_attempts,
        "run_started_at": d.run_started_at,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at,
        "failed_at": d.failed_at,
    }


def _delivery_from(doc: Document) -> WebhookDelivery:
    return WebhookDelivery(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        endpoint_id=doc["endpoint_id"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        payload=doc["payload"],
        status=DeliveryStatus(doc["status"]),
        created_at=doc["created_at"],
        next_attempt_at=doc.get("next_attempt_at"),
        attempts=int(doc.get("attempts", 0)),
        run_attempts=int(doc.get("run_attempts", 0)),
        run_started_at=doc.get("run_started_at"),
        last_status=doc.get("last_status"),
        last_error=doc.get("last_error"),
        delivered_at=doc.get("delivered_at"),
        failed_at=doc.get("failed_at"),
    )


def _attempt_id(delivery_id: str, number: int) -> str:
    return f"{delivery_id}:{number}"


def _attempt_doc(delivery: WebhookDelivery, a: DeliveryAttempt) -> Document:
    return {
        "_id": _attempt_id(delivery.id, a.number),
        "tenant_id": delivery.tenant_id,
        "delivery_id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "number": a.number,
        "started_at": a.started_at,
        "request_headers": a.request_headers,
        "request_body_bytes": a.request_body_bytes,
        "response_status": a.response_status,
        "response_body": a.response_body,
        "duration_ms": a.duration_ms,
        "error": a.error,
        "finished": a.finished,
    }


def _attempt_from(doc: Document) -> DeliveryAttempt:
    return DeliveryAttempt(
        number=int(doc["number"]),
        started_at=doc["started_at"],
        request_headers=dict(doc.get("request_headers") or {}),
        request_body_bytes=int(doc.get("request_body_bytes") or 0),
        response_status=doc.get("response_status"),
        response_body=doc.get("response_body"),
        duration_ms=doc.get("duration_ms"),
        error=doc.get("error"),
        finished=bool(doc.get("finished")),
    )


# -- one tenant --------------------------------------------------------------------------


class _Deliveries(TenantRepository):
    collection_name = DELIVERIES


class _Attempts(TenantRepository):
    collection_name = ATTEMPTS


class MongoWebhookRepository(TenantRepository):
    collection_name = ENDPOINTS

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        super().__init__(db, tenant_id)
        self._deliveries = _Deliveries(db, tenant_id)
        self._attempts = _Attempts(db, tenant_id)

    async def insert_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self.collection.insert_one(_endpoint_doc(endpoint))

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        doc = await self.collection.find_one({"_id": endpoint_id})
        return _endpoint_from(doc) if doc else None

    async def endpoints(self, page: PageRequest) -> Page[WebhookEndpoint]:
        return (await self.paginate({}, _NEWEST, page)).map(_endpoint_from)

    async def all_endpoints(self, limit: int) -> list[WebhookEndpoint]:
        cursor = self.collection.find({}, sort=[("created_at", -1), ("_id", -1)], limit=limit)
        return [_endpoint_from(doc) async for doc in cursor]

    async def count_endpoints(self) -> int:
        return await self.collection.count_documents({})

    async def save_endpoint(self, endpoint: WebhookEndpoint, expected_version: int) -> bool:
        doc = _endpoint_doc(endpoint)
        doc.pop("_id")
        result = await self.collection.update_one(
            {"_id": endpoint.id, "version": expected_version}, {"$set": doc}
        )
        return result.matched_count == 1

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        result = await self.collection.delete_one({"_id": endpoint_id})
        return result.deleted_count == 1

    async def insert_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> int:
        if not deliveries:
            return 0
        try:
            result = await self._deliveries.collection.insert_many(
                [_delivery_doc(d) for d in deliveries], ordered=False
            )
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            # Already planned (a redelivered event, the other replica): keep the first.
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return int(exc.details.get("nInserted", 0))

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        doc = await self._deliveries.collection.find_one({"_id": delivery_id})
        return _delivery_from(doc) if doc else None

    async def deliveries(
        self, endpoint_id: str, status: DeliveryStatus | None, page: PageRequest
    ) -> Page[WebhookDelivery]:
        query: Document = {"endpoint_id": endpoint_id}
        if status is not None:
            query["status"] = status.value
        return (await self._deliveries.paginate(query, _NEWEST, page)).map(_delivery_from)

    async def attempts(self, delivery_id: str, page: PageRequest) -> Page[DeliveryAttempt]:
        sort = [SortKey("number")]
        page_ = await self._attempts.paginate({"delivery_id": delivery_id}, sort, page)
        return page_.map(_attempt_from)

    async def request_redelivery(self, delivery: WebhookDelivery, now: datetime) -> bool:
        result = await self._deliveries.collection.update_one(
            {"_id": delivery.id, "attempts": delivery.attempts},
            {
                "$set": {
                    "status": DeliveryStatus.PENDING.value,
                    "next_attempt_at": now,
                    "run_attempts": 0,
                    "run_started_at": now,
                    "failed_at": None,
                }
            },
        )
        return result.matched_count == 1

    async def wake_pending(self, endpoint_id: str, now: datetime) -> int:
        result = await self._deliveries.collection.update_many(
            {"endpoint_id": endpoint_id, "status": DeliveryStatus.PENDING.value},
            {"$set": {"next_attempt_at": now}},
        )
        return result.modified_count


# -- every tenant: the sender ------------------------------------------------------------


class MongoDeliveryQueue:
    """The sender's view of deliveries across tenants (each write names its own tenant)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the sender loop sends every tenant's due deliveries.
        self._deliveries = CrossTenant(db)[DELIVERIES]
        self._attempts = CrossTenant(db)[ATTEMPTS]
        self._endpoints = CrossTenant(db)[ENDPOINTS]

    async def due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        cursor = self._deliveries.find(
            {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}},
            sort=[("next_attempt_at", ASCENDING)],
            limit=limit,
        )
        return [_delivery_from(doc) async for doc in cursor]

    async def next_due_at(self) -> datetime | None:
        doc = await self._deliveries.find_one(
            {"status": DeliveryStatus.PENDING.value},
            {"next_attempt_at": 1},
            sort=[("next_attempt_at", ASCENDING)],
        )
        return doc.get("next_attempt_at") if doc else None

    async def endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        doc = await self._endpoints.find_one({"_id": endpoint_id})
        if doc is None or doc.get("tenant_id") != tenant_id:
            return None
        return _endpoint_from(doc)

    async def claim_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> bool:
        try:
            await self._attempts.insert_one(_attempt_doc(delivery, attempt))
        except DuplicateKeyError:
            return False
        return True

    async def get_attempt(self, delivery: WebhookDelivery, number: int) -> DeliveryAttempt | None:
        doc = await self._attempts.find_one({"_id": _attempt_id(delivery.id, number)})
        return _attempt_from(doc) if doc else None

    async def finish_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
        doc = _attempt_doc(delivery, attempt)
        await self._attempts.replace_one({"_id": doc["_id"]}, doc)

    async def record_outcome(self, before: WebhookDelivery, after: WebhookDelivery) -> bool:
        doc = _delivery_doc(after)
        doc.pop("_id")
        doc.pop("payload")
        result = await self._deliveries.update_one(
            {"_id": before.id, "attempts": before.attempts}, {"$set": doc}
        )
        return result.matched_count == 1

    async def park(self, delivery: WebhookDelivery, until: datetime) -> None:
        await self._deliveries.update_one(
            {"_id": delivery.id, "attempts": delivery.attempts},
            {"$set": {"next_attempt_at": until}},
        )

    async def disable_endpoint(self, tenant_id: str, endpoint_id: str, reason: str) -> None:
        await self._endpoints.update_one(
            {"_id": endpoint_id, "tenant_id": tenant_id},
            {
                "$set": {"status": EndpointStatus.DISABLED.value, "disabled_reason": reason},
                "$inc": {"version": 1},
            },
        )


# -- addresses and HTTP ------------------------------------------------------------------


class SystemResolver:
    """Resolves with the system resolver (getaddrinfo), for the registration-time check."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self._timeout_s = timeout_s

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), self._timeout_s
            )
        except TimeoutError as exc:
            raise OSError(f"resolving {host} timed out") from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class RefusedAddress(OSError):
    """The host resolves only to addresses webhooks may not reach."""


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that drops loopback, link-local and private addresses."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return results
        allowed = [r for r in results if address_allowed(r["host"])]
        if not allowed:
            refused = ", ".join(sorted({r["host"] for r in results}))
            raise RefusedAddress(f"{host} resolves to a non-public address ({refused})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AiohttpWebhookHttp:
    """POSTs one delivery; every failure is a `SendResult` with an error, never an exception."""

    def __init__(
        self,
        *,
        allow_private_networks: bool,
        timeout_s: float = 15.0,
        connect_timeout_s: float = 5.0,
        max_response_bytes: int = 64 * 1024,
        logged_response_bytes: int = 1024,
    ) -> None:
        self._allow_private = allow_private_networks
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_s, connect=connect_timeout_s, sock_read=timeout_s
        )
        self._max_response = max_response_bytes
        self._logged = logged_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._allow_private),
                limit=100,
                limit_per_host=8,
                use_dns_cache=False,  # resolve (and check) on every connection
                force_close=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                trust_env=False,
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        started = time.perf_counter()

        def took() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            parsed = parse_endpoint_url(url)
        except Exception as exc:
            return SendResult(None, None, took(), f"invalid url: {exc}")
        if not self._allow_private:
            # A literal IP never reaches the resolver: check it here.
            literal = parsed.host.strip("[]")
            if _is_ip(literal) and not address_allowed(literal):
                return SendResult(
                    None, None, took(), f"refused: {parsed.host} is not a public address"
                )
        try:
            async with self._client().post(
                parsed.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                received = await response.content.read(self._max_response + 1)
                truncated = len(received) > self._max_response
                text = received[: self._logged].decode("utf-8", "replace")
                error = "response larger than the cap; rest not read" if truncated else None
                return SendResult(response.status, text, took(), error)
        except RefusedAddress as exc:
            return SendResult(None, None, took(), f"refused: {exc}")
        except TimeoutError:
            return SendResult(None, None, took(), "timeout")
        except aiohttp.ClientConnectorError as exc:
            cause: Any = exc.os_error
            if isinstance(cause, RefusedAddress):
                return SendResult(None, None, took(), f"refused: {cause}")
            return SendResult(None, None, took(), f"connection failed: {exc}")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(None, None, took(), f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # an answer or URL aiohttp cannot handle: still an attempt
            return SendResult(None, None, took(), f"{type(exc).__name__}: {exc}"[:500])


# -- the consumer group ------------------------------------------------------------------


class WebhookEventConsumer(KafkaConsumerLoop):
    """The ``engagement-webhooks`` group: hands each poll's CloudEvents to the planner at once.

    No processed-events ledger: the planner's only effect is inserting deliveries under ids
    derived from event and endpoint, so a poll handled twice (a crash before the commit, a
    rebalance) inserts nothing new. A record that is not a CloudEvent is dead-lettered.
    """

    def __init__(
        self,
        *,
        group: str,
        topics: list[str],
        bootstrap_servers: str,
        handle: Callable[[list[CloudEvent]], Awaitable[None]],
    ) -> None:
        super().__init__(group=group, topics=topics, bootstrap_servers=bootstrap_servers)
        self._handle = handle

    async def _handle_poll(
        self,
        consumer: AIOKafkaConsumer,
        polled: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        events = []
        for records in polled.values():
            for record in records:
                try:
                    events.append(
                        CloudEvent.from_record(record.key, record.value, list(record.headers or []))
                    )
                except MalformedEvent as exc:
                    await self._dead_letter(record, f"malformed: {exc}")
        if events:
            await self._handle(events)
            self.handled += len(events)
