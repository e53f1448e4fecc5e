"""Webhooks: endpoint administration, delivery planning from events, and the sender loop.

- `WebhookService` (API use cases, tenant admins only): register, rotate, pause, resume,
  delete endpoints; read the delivery log; redeliver one delivery.
- `DeliveryPlanner` (the ``engagement-webhooks`` consumer group, every service topic): for each
  event, one delivery per endpoint of its tenant that wants the type, inserted under an id
  derived from event and endpoint — a redelivered event or a second replica inserts nothing new.
- `WebhookSender` (every replica): sends due deliveries. An attempt is claimed by INSERTING
  its log entry ``{delivery}:{n}`` (a unique ``_id``: atomic on MongoDB and on FerretDB, where a
  conditional update is not, docs/architecture.md "Replicas"), so two replicas never both send
  attempt n. Only the claimer then writes the delivery's outcome; an attempt whose sender died
  is finished as abandoned by whoever finds it stale. Woken by the planner's signal, by its own
  next retry time, and by a slow sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.coordination import deterministic_event_id
from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events.envelope import SPEC_VERSION, CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.permissions import require_admin
from crm_engagement.domain.webhook import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    RetryPolicy,
    SigningSecret,
    WebhookDelivery,
    WebhookEndpoint,
    new_secret,
    parse_endpoint_url,
    refused_addresses,
    retryable,
    rotated,
    validate_description,
    validate_event_types,
    webhook_headers,
)

log = logging.getLogger(__name__)

CONSUMER_GROUP = "engagement-webhooks"
MAX_ENDPOINTS_PER_TENANT = 50
MAX_GRACE_HOURS = 7 * 24
# Clock differences between the process that registered an endpoint and the event's producer.
REGISTRATION_SLACK = timedelta(seconds=5)


# -- ports -------------------------------------------------------------------------------


class WebhookRepository(Protocol):
    """One tenant's endpoints, deliveries and attempts."""

    async def insert_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    async def endpoints(self, page: PageRequest) -> Page[WebhookEndpoint]: ...

    async def all_endpoints(self, limit: int) -> list[WebhookEndpoint]: ...

    async def count_endpoints(self) -> int: ...

    async def save_endpoint(self, endpoint: WebhookEndpoint, expected_version: int) -> bool:
        """Replace the endpoint if it still has ``expected_version``."""

    async def delete_endpoint(self, endpoint_id: str) -> bool: ...

    async def insert_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> int:
        """Insert those not there yet (by id); how many were new."""

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    async def deliveries(
        self, endpoint_id: str, status: DeliveryStatus | None, page: PageRequest
    ) -> Page[WebhookDelivery]: ...

    async def attempts(self, delivery_id: str, page: PageRequest) -> Page[DeliveryAttempt]: ...

    async def request_redelivery(self, delivery: WebhookDelivery, now: datetime) -> bool: ...

    async def wake_pending(self, endpoint_id: str, now: datetime) -> int:
        """Make the endpoint's PENDING deliveries due now (on resume)."""


class DeliveryQueue(Protocol):
    """Across tenants: what the sender scans and writes."""

    async def due(self, now: datetime, limit: int) -> list[WebhookDelivery]: ...

    async def next_due_at(self) -> datetime | None: ...

    async def endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...

    async def claim_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> bool:
        """Insert the attempt's log entry; False if attempt n is someone else's already."""

    async def get_attempt(
        self, delivery: WebhookDelivery, number: int
    ) -> DeliveryAttempt | None: ...

    async def finish_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None: ...

    async def record_outcome(self, before: WebhookDelivery, after: WebhookDelivery) -> bool:
        """Write ``after`` if the delivery still has ``before``'s attempt count."""

    async def park(self, delivery: WebhookDelivery, until: datetime) -> None: ...

    async def disable_endpoint(self, tenant_id: str, endpoint_id: str, reason: str) -> None: ...


class AddressResolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses (raises OSError if it does not resolve)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    status: int | None
    body: str | None
    duration_ms: float
    error: str | None = None


class WebhookHttp(Protocol):
    async def post(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """POST once; never raises for network errors, timeouts or refused addresses."""


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    allow_private_networks: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rotation_grace: timedelta = timedelta(hours=24)


# -- administration ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterCommand:
    url: str
    event_types: tuple[str, ...] = ()
    description: str = ""


async def check_destination(
    url: str, resolver: AddressResolver, allow_private: bool, field_name: str = "input.url"
) -> None:
    """Refuse a URL whose host resolves to a loopback, link-local or private address."""
    parsed = parse_endpoint_url(url, field_name)
    if allow_private:
        return
    try:
        addresses = await resolver.resolve(parsed.host, parsed.port)
    except OSError as exc:
        raise BadUserInput(
            f"the endpoint host {parsed.host!r} does not resolve", field=field_name
        ) from exc
    if not addresses:
        raise BadUserInput(f"the endpoint host {parsed.host!r} does not resolve", field=field_name)
    refused = refused_addresses(addresses)
    if refused:
        raise BadUserInput(
            f"the endpoint host {parsed.host!r} resolves to a loopback, link-local or private "
            f"address ({', '.join(sorted(refused))}); only public addresses may receive webhooks",
            field=field_name,
            setting="WEBHOOKS_ALLOW_PRIVATE_NETWORKS",
        )


class WebhookService:
    def __init__(
        self,
        principal: Principal,
        repository: WebhookRepository,
        resolver: AddressResolver,
        settings: WebhookSettings,
        wake_sender: Callable[[], None],
        known_event_types: Callable[[], Sequence[str]],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._repo = repository
        self._resolver = resolver
        self._settings = settings
        self._wake = wake_sender
        self._known = known_event_types
        self._clock = clock

    def _admin(self, what: str) -> None:
        require_admin(self._principal, what)

    async def _endpoint(self, endpoint_id: str, field_name: str) -> WebhookEndpoint:
        found = await self._repo.get_endpoint(endpoint_id)
        if found is None:
            raise NotFound(f"webhook endpoint {endpoint_id} not found", field=field_name)
        return found

    async def register(self, command: RegisterCommand) -> tuple[WebhookEndpoint, str]:
        """A new endpoint and its signing secret (shown this once)."""
        self._admin("register webhook endpoints")
        parsed = parse_endpoint_url(command.url)
        types = validate_event_types(command.event_types, self._known())
        description = validate_description(command.description)
        await check_destination(parsed.url, self._resolver, self._settings.allow_private_networks)
        if await self._repo.count_endpoints() >= MAX_ENDPOINTS_PER_TENANT:
            raise BadUserInput(
                f"a tenant may have at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints",
                field="input.url",
            )
        now = self._clock()
        secret = new_secret()
        endpoint = WebhookEndpoint(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            url=parsed.url,
            event_types=types,
            description=description,
            status=EndpointStatus.ACTIVE,
            secrets=(SigningSecret(secret, now),),
            created_at=now,
            created_by=self._principal.user_id,
            updated_at=now,
        )
        await self._repo.insert_endpoint(endpoint)
        return endpoint, secret

    async def list(self, page: PageRequest) -> Page[WebhookEndpoint]:
        self._admin("see webhook endpoints")
        return await self._repo.endpoints(page)

    async def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        self._admin("see webhook endpoints")
        return await self._repo.get_endpoint(endpoint_id)

    async def _save(self, before: WebhookEndpoint, after: WebhookEndpoint) -> WebhookEndpoint:
        saved = replace(after, version=before.version + 1, updated_at=self._clock())
        if not await self._repo.save_endpoint(saved, before.version):
            raise Conflict("the endpoint changed meanwhile; read it again and retry")
        return saved

    async def rotate_secret(
        self, endpoint_id: str, grace_hours: float | None = None
    ) -> tuple[WebhookEndpoint, str]:
        """A new secret; the old one keeps signing for the grace period (both are sent)."""
        self._admin("rotate webhook secrets")
        grace = self._settings.rotation_grace
        if grace_hours is not None:
            if not 0 <= grace_hours <= MAX_GRACE_HOURS:
                raise BadUserInput(
                    f"gracePeriodHours must be between 0 and {MAX_GRACE_HOURS}",
                    field="input.gracePeriodHours",
                )
            grace = timedelta(hours=grace_hours)
        endpoint = await self._endpoint(endpoint_id, "input.id")
        secret = new_secret()
        now = self._clock()
        saved = await self._save(
            endpoint, replace(endpoint, secrets=rotated(endpoint.secrets, secret, now, grace))
        )
        return saved, secret

    async def pause(self, endpoint_id: str) -> WebhookEndpoint:
        self._admin("pause webhook endpoints")
        endpoint = await self._endpoint(endpoint_id, "input.id")
        if endpoint.status is EndpointStatus.PAUSED:
            return endpoint
        return await self._save(endpoint, replace(endpoint, status=EndpointStatus.PAUSED))

    async def resume(self, endpoint_id: str) -> WebhookEndpoint:
        """Active again (also after a 410 disabled it); what accumulated goes out now."""
        self._admin("resume webhook endpoints")
        endpoint = await self._endpoint(endpoint_id, "input.id")
        if endpoint.status is not EndpointStatus.ACTIVE:
            await check_destination(
                endpoint.url, self._resolver, self._settings.allow_private_networks, "input.id"
            )
            endpoint = await self._save(
                endpoint,
                replace(endpoint, status=EndpointStatus.ACTIVE, disabled_reason=None),
            )
        await self._repo.wake_pending(endpoint.id, self._clock())
        self._wake()
        return endpoint

    async def delete(self, endpoint_id: str) -> str:
        self._admin("delete webhook endpoints")
        await self._endpoint(endpoint_id, "input.id")
        await self._repo.delete_endpoint(endpoint_id)
        return endpoint_id

    async def deliveries(
        self, endpoint_id: str, status: DeliveryStatus | None, page: PageRequest
    ) -> Page[WebhookDelivery]:
        self._admin("see webhook deliveries")
        await self._endpoint(endpoint_id, "endpointId")
        return await self._repo.deliveries(endpoint_id, status, page)

    async def attempts(self, delivery_id: str, page: PageRequest) -> Page[DeliveryAttempt]:
        self._admin("see webhook deliveries")
        return await self._repo.attempts(delivery_id, page)

    async def redeliver(self, delivery_id: str) -> WebhookDelivery:
        """Send the delivery again (same webhook-id, a fresh retry run)."""
        self._admin("redeliver webhooks")
        delivery = await self._repo.get_delivery(delivery_id)
        if delivery is None:
            raise NotFound(f"webhook delivery {delivery_id} not found", field="input.deliveryId")
        endpoint = await self._endpoint(delivery.endpoint_id, "input.deliveryId")
        if endpoint.status is EndpointStatus.DISABLED:
            raise BadUserInput(
                "the endpoint is disabled; resume it first", field="input.deliveryId"
            )
        now = self._clock()
        if not await self._repo.request_redelivery(delivery, now):
            raise Conflict("the delivery is being sent right now; try again in a moment")
        self._wake()
        updated = await self._repo.get_delivery(delivery_id)
        assert updated is not None
        return updated


# -- planning deliveries from events -----------------------------------------------------


def delivery_id(event_id: str, endpoint_id: str) -> str:
    return deterministic_event_id("webhook-delivery", event_id, endpoint_id)


def cloud_event_json(event: CloudEvent) -> str:
    """The event in CloudEvents structured JSON mode (what the topic carries, as one document)."""
    document = {
        "specversion": SPEC_VERSION,
        "id": event.id,
        "type": event.type,
        "source": event.source,
        "time": event.time.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "tenantid": event.tenant_id,
        "subject": event.key or None,
        "data": event.data,
    }
    if document["subject"] is None:
        del document["subject"]
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


class DeliveryPlanner:
    """The consumer's handler: one delivery per interested endpoint of the event's tenant."""

    def __init__(
        self,
        repositories: Callable[[str], WebhookRepository],
        wake_sender: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._repositories = repositories
        self._wake = wake_sender
        self._clock = clock
        self.planned = 0

    async def on_event(self, event: CloudEvent) -> None:
        await self.on_events([event])

    async def on_events(self, events: Sequence[CloudEvent]) -> None:
        """One poll's events: one endpoint read and one insert per tenant."""
        by_tenant: dict[str, list[CloudEvent]] = {}
        for event in events:
            by_tenant.setdefault(event.tenant_id, []).append(event)
        new = 0
        for tenant_id, tenant_events in by_tenant.items():
            repo = self._repositories(tenant_id)
            endpoints = [
                e for e in await repo.all_endpoints(MAX_ENDPOINTS_PER_TENANT) if e.queues_deliveries
            ]
            if not endpoints:
                continue
            now = self._clock()
            deliveries = [
                WebhookDelivery(
                    id=delivery_id(event.id, e.id),
                    tenant_id=tenant_id,
                    endpoint_id=e.id,
                    event_id=event.id,
                    event_type=event.type,
                    payload=cloud_event_json(event),
                    status=DeliveryStatus.PENDING,
                    created_at=now,
                    next_attempt_at=now,
                    run_started_at=now,
                )
                for event in tenant_events
                for e in endpoints
                if e.wants(event.type)
                # Events from before the endpoint existed are not its business (a consumer
                # catching up, or the first start of the group, reads old events).
                and event.time >= e.created_at - REGISTRATION_SLACK
            ]
            new += await repo.insert_deliveries(deliveries)
        if new:
            self.planned += new
            self._wake()


# -- sending -----------------------------------------------------------------------------


class SenderSignal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, max_wait_s: float) -> None:
        if max_wait_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), max_wait_s)
        self._event.clear()


class WebhookSender:
    def __init__(
        self,
        queue: DeliveryQueue,
        http: WebhookHttp,
        signal: SenderSignal,
        *,
        retry: RetryPolicy,
        sweep_interval_s: float = 10.0,
        paused_recheck_s: float = 60.0,
        stale_attempt_s: float = 120.0,
        batch_size: int = 100,
        concurrency: int = 16,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._queue = queue
        self._http = http
        self._signal = signal
        self._retry = retry
        self._sweep_s = sweep_interval_s
        self._paused_recheck = timedelta(seconds=paused_recheck_s)
        self._stale = timedelta(seconds=stale_attempt_s)
        self._batch = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._wake_at = clock()
        self._backlog = False  # the last pass left due deliveries unstarted
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        self._stopping.set()
        self._signal.notify()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        # Let attempts in flight finish (and be logged) for a moment; a cancelled one is
        # finished as abandoned by the next replica that finds it stale.
        in_flight = list(self._in_flight.values())
        if in_flight:
            await asyncio.wait(in_flight, timeout=5)
        for task in in_flight:
            task.cancel()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            wait_s = self._sweep_s
            try:
                await self.run_once()
                next_due = await self._queue.next_due_at()
                until = (next_due - self._clock()).total_seconds() if next_due else wait_s
                # Due already (until <= 0): they are this replica's, in flight or waiting for a
                # slot, and each one finishing wakes the loop; or another replica's, just
                # claimed. Either way, no reason to scan again at once.
                if until > 0:
                    wait_s = min(wait_s, until)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook sender pass failed; retrying", extra={"error": repr(exc)})
                wait_s = min(wait_s, 2.0)
            wait_s = max(wait_s, 0.05)
            self._wake_at = self._clock() + timedelta(seconds=wait_s)
            await self._signal.wait(wait_s)

    async def run_once(self) -> int:
        """Start sending what is due now; returns how many deliveries were started."""
        started = 0
        due = await self._queue.due(self._clock(), self._batch)
        # More may be due than this pass started (a full batch, or some still in flight here):
        # a finishing attempt then wakes the loop.
        self._backlog = len(due) >= self._batch or any(d.id in self._in_flight for d in due)
        # The pass's deliveries share their endpoints' reads (a burst is mostly one endpoint).
        endpoints: dict[str, asyncio.Future[WebhookEndpoint | None]] = {}
        for delivery in due:
            if delivery.id in self._in_flight:
                continue
            task = asyncio.create_task(
                self._guarded(delivery, endpoints), name=f"webhook-{delivery.id}"
            )
            self._in_flight[delivery.id] = task
            task.add_done_callback(self._done)
            started += 1
        return started

    def _done(self, task: asyncio.Task[None]) -> None:
        for key, running in list(self._in_flight.items()):
            if running is task:
                del self._in_flight[key]
        if self._backlog and not self._stopping.is_set():
            self._signal.notify()  # room again for what the full batch left out

    async def _guarded(
        self,
        delivery: WebhookDelivery,
        endpoints: dict[str, asyncio.Future[WebhookEndpoint | None]],
    ) -> None:
        async with self._slots:
            try:
                await self.attempt(delivery, endpoints)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "webhook attempt failed", extra={"delivery": delivery.id, "error": repr(exc)}
                )
                # Not again at once (the loop would spin on it): a little later.
                with contextlib.suppress(Exception):
                    await self._queue.park(delivery, self._clock() + timedelta(seconds=5))

    async def attempt(
        self,
        delivery: WebhookDelivery,
        endpoints: dict[str, asyncio.Future[WebhookEndpoint | None]] | None = None,
    ) -> None:
        now = self._clock()
        key = f"{delivery.tenant_id}\x1f{delivery.endpoint_id}"
        cache = endpoints if endpoints is not None else {}
        if key not in cache:
            cache[key] = asyncio.ensure_future(
                self._queue.endpoint(delivery.tenant_id, delivery.endpoint_id)
            )
        endpoint = await cache[key]
        if endpoint is None:
            failed = replace(
                delivery,
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                failed_at=now,
                last_error="the endpoint was deleted",
            )
            await self._queue.record_outcome(delivery, failed)
            return
        if endpoint.status is not EndpointStatus.ACTIVE:
            # Paused (or disabled): keep it PENDING, look again later; resume wakes it at once.
            await self._queue.park(delivery, now + self._paused_recheck)
            return
        number = delivery.attempts + 1
        body = delivery.payload.encode()
        headers = {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "user-agent": "crm-webhooks/1",
            **webhook_headers(endpoint.live_secrets(now), delivery.id, int(now.timestamp()), body),
        }
        claim = DeliveryAttempt(
            number=number,
            started_at=now,
            request_headers={k: v for k, v in headers.items() if k != "webhook-signature"},
            request_body_bytes=len(body),
        )
        if not await self._queue.claim_attempt(delivery, claim):
            await self._recover(delivery, number)
            return
        # Out of the due scan while in flight (the outcome sets the real next time): other
        # replicas stop finding it, and a large backlog is not hidden behind in-flight ones.
        await self._queue.park(delivery, now + self._stale)
        result = await self._http.post(endpoint.url, headers, body)
        finished = replace(
            claim,
            response_status=result.status,
            response_body=result.body,
            duration_ms=round(result.duration_ms, 1),
            error=result.error,
            finished=True,
        )
        await self._queue.finish_attempt(delivery, finished)
        await self._conclude(delivery, finished)

    async def _recover(self, delivery: WebhookDelivery, number: int) -> None:
        """Attempt ``number`` was claimed before: by a live sender (leave it), or by one that
        finished but did not record the outcome, or died (finish it as abandoned)."""
        attempt = await self._queue.get_attempt(delivery, number)
        if attempt is None:
            return
        if not attempt.finished:
            if self._clock() - attempt.started_at < self._stale:
                return
            attempt = replace(
                attempt, finished=True, error="abandoned: the sending replica stopped"
            )
            await self._queue.finish_attempt(delivery, attempt)
        await self._conclude(delivery, attempt)

    async def _conclude(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
        now = self._clock()
        base = replace(
            delivery,
            attempts=attempt.number,
            run_attempts=delivery.run_attempts + 1,
            last_status=attempt.response_status,
            last_error=attempt.error,
        )
        if attempt.succeeded:
            after = replace(
                base, status=DeliveryStatus.DELIVERED, next_attempt_at=None, delivered_at=now
            )
            self.sent += 1
        elif not retryable(attempt.response_status):
            after = replace(base, status=DeliveryStatus.FAILED, next_attempt_at=None, failed_at=now)
            await self._queue.disable_endpoint(
                delivery.tenant_id, delivery.endpoint_id, "the receiver answered 410 Gone"
            )
        elif self._retry.gives_up(delivery.run_started_at or delivery.created_at, now):
            after = replace(base, status=DeliveryStatus.FAILED, next_attempt_at=None, failed_at=now)
        else:
            delay = self._retry.next_delay_s(base.run_attempts)
            after = replace(base, next_attempt_at=now + timedelta(seconds=delay))
        await self._queue.record_outcome(delivery, after)
        if after.next_attempt_at is not None and after.next_attempt_at < self._wake_at:
            self._signal.notify()  # the retry is due before the loop would look again
