"""The webhook sender's decisions over an in-memory queue (pure logic; the real store and HTTP
are exercised in tests/e2e/test_webhooks.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from crm_common.events.envelope import CloudEvent
from crm_engagement.domain.webhook import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    RetryPolicy,
    SigningSecret,
    WebhookDelivery,
    WebhookEndpoint,
    new_secret,
    verify,
)
from crm_engagement.service.webhooks import (
    DeliveryPlanner,
    SenderSignal,
    SendResult,
    WebhookSender,
)

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Queue:
    def __init__(self, endpoint: WebhookEndpoint | None) -> None:
        self.endpoints = {endpoint.id: endpoint} if endpoint else {}
        self.deliveries: dict[str, WebhookDelivery] = {}
        self.attempts: dict[tuple[str, int], DeliveryAttempt] = {}

    async def due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        return [
            d
            for d in self.deliveries.values()
            if d.status is DeliveryStatus.PENDING and d.next_attempt_at and d.next_attempt_at <= now
        ][:limit]

    async def next_due_at(self) -> datetime | None:
        return None

    async def endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return self.endpoints.get(endpoint_id)

    async def claim_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> bool:
        key = (delivery.id, attempt.number)
        if key in self.attempts:
            return False
        self.attempts[key] = attempt
        return True

    async def get_attempt(self, delivery: WebhookDelivery, number: int) -> DeliveryAttempt | None:
        return self.attempts.get((delivery.id, number))

    async def finish_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
        self.attempts[(delivery.id, attempt.number)] = attempt

    async def record_outcome(self, before: WebhookDelivery, after: WebhookDelivery) -> bool:
        if self.deliveries[before.id].attempts != before.attempts:
            return False
        self.deliveries[before.id] = after
        return True

    async def park(self, delivery: WebhookDelivery, until: datetime) -> None:
        self.deliveries[delivery.id] = replace(self.deliveries[delivery.id], next_attempt_at=until)

    async def disable_endpoint(self, tenant_id: str, endpoint_id: str, reason: str) -> None:
        e = self.endpoints[endpoint_id]
        self.endpoints[endpoint_id] = replace(
            e, status=EndpointStatus.DISABLED, disabled_reason=reason
        )


class Http:
    def __init__(self, answers: list[int | None]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, str], bytes]] = []

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        self.calls.append((url, headers, body))
        status = self.answers.pop(0) if self.answers else 200
        if status is None:
            return SendResult(None, None, 5.0, "timeout")
        return SendResult(status, "x", 5.0)


SECRET = new_secret()


def endpoint(status: EndpointStatus = EndpointStatus.ACTIVE) -> WebhookEndpoint:
    return WebhookEndpoint(
        id="ep",
        tenant_id="t",
        url="https://partner.example/hook",
        event_types=(),
        description="",
        status=status,
        secrets=(SigningSecret(SECRET, T0),),
        created_at=T0,
        created_by="admin",
        updated_at=T0,
    )


def delivery() -> WebhookDelivery:
    return WebhookDelivery(
        id="d1",
        tenant_id="t",
        endpoint_id="ep",
        event_id="e1",
        event_type="crm.customer.created",
        payload='{"id":"e1"}',
        status=DeliveryStatus.PENDING,
        created_at=T0,
        next_attempt_at=T0,
        run_started_at=T0,
    )


def sender(queue: Queue, http: Http, clock: Clock, window_s: float = 3600) -> WebhookSender:
    return WebhookSender(
        queue,
        http,
        SenderSignal(),
        retry=RetryPolicy(base_s=1, max_delay_s=10, window_s=window_s),
        stale_attempt_s=60,
        clock=clock,
    )


async def run_until_settled(s: WebhookSender, queue: Queue, clock: Clock) -> None:
    for _ in range(100):
        d = queue.deliveries["d1"]
        if d.status is not DeliveryStatus.PENDING:
            return
        assert d.next_attempt_at is not None
        clock.now = max(clock.now, d.next_attempt_at)
        await s.attempt(d)


async def test_three_500s_then_200_is_four_signed_attempts_with_one_webhook_id() -> None:
    queue, http, clock = Queue(endpoint()), Http([500, 500, None]), Clock()
    queue.deliveries["d1"] = delivery()
    await run_until_settled(sender(queue, http, clock), queue, clock)
    final = queue.deliveries["d1"]
    assert final.status is DeliveryStatus.DELIVERED and final.attempts == 4
    assert [queue.attempts[("d1", n)].response_status for n in (1, 2, 3, 4)] == [
        500,
        500,
        None,
        200,
    ]
    assert queue.attempts[("d1", 3)].error == "timeout"
    for _, headers, body in http.calls:
        assert headers["webhook-id"] == "d1"
        assert verify(
            SECRET, "d1", int(headers["webhook-timestamp"]), body, headers["webhook-signature"]
        )


async def test_gives_up_after_the_window_and_410_disables_the_endpoint() -> None:
    queue, clock = Queue(endpoint()), Clock()
    queue.deliveries["d1"] = delivery()
    s = sender(queue, Http([503] * 1000), clock, window_s=30)
    await run_until_settled(s, queue, clock)
    final = queue.deliveries["d1"]
    assert final.status is DeliveryStatus.FAILED and final.attempts > 1
    assert clock.now - T0 >= timedelta(seconds=30)

    queue, clock = Queue(endpoint()), Clock()
    queue.deliveries["d1"] = delivery()
    await sender(queue, Http([410]), clock).attempt(queue.deliveries["d1"])
    assert queue.deliveries["d1"].status is DeliveryStatus.FAILED
    assert queue.endpoints["ep"].status is EndpointStatus.DISABLED


async def test_a_claimed_attempt_is_sent_once_and_a_dead_senders_attempt_is_abandoned() -> None:
    queue, http, clock = Queue(endpoint()), Http([]), Clock()
    queue.deliveries["d1"] = delivery()
    # Another replica claimed attempt 1 and is sending: this one leaves it alone.
    queue.attempts[("d1", 1)] = DeliveryAttempt(number=1, started_at=T0)
    s = sender(queue, http, clock)
    await s.attempt(queue.deliveries["d1"])
    assert not http.calls and queue.deliveries["d1"].attempts == 0
    # It never finished: after the stale period it is closed and attempt 2 goes out.
    clock.now = T0 + timedelta(seconds=61)
    await s.attempt(queue.deliveries["d1"])
    assert queue.attempts[("d1", 1)].error == "abandoned: the sending replica stopped"
    assert queue.deliveries["d1"].attempts == 1
    await run_until_settled(s, queue, clock)
    assert len(http.calls) == 1 and queue.deliveries["d1"].status is DeliveryStatus.DELIVERED


async def test_paused_endpoints_keep_deliveries_pending_and_deleted_ones_fail_them() -> None:
    queue, http, clock = Queue(endpoint(EndpointStatus.PAUSED)), Http([]), Clock()
    queue.deliveries["d1"] = delivery()
    await sender(queue, http, clock).attempt(queue.deliveries["d1"])
    parked = queue.deliveries["d1"]
    assert parked.status is DeliveryStatus.PENDING and not http.calls
    assert parked.next_attempt_at is not None and parked.next_attempt_at > T0

    queue = Queue(None)
    queue.deliveries["d1"] = delivery()
    await sender(queue, http, clock).attempt(queue.deliveries["d1"])
    assert queue.deliveries["d1"].status is DeliveryStatus.FAILED


class Repo:
    def __init__(self, endpoints: list[WebhookEndpoint]) -> None:
        self.endpoints = endpoints
        self.inserted: list[WebhookDelivery] = []

    async def all_endpoints(self, limit: int) -> list[WebhookEndpoint]:
        return self.endpoints

    async def insert_deliveries(self, deliveries: list[WebhookDelivery]) -> int:
        new = [d for d in deliveries if d.id not in {i.id for i in self.inserted}]
        self.inserted += new
        return len(new)


async def test_planner_matches_types_and_skips_events_from_before_the_endpoint() -> None:
    wanted = replace(endpoint(), id="a", event_types=("crm.customer.created",))
    other = replace(endpoint(), id="b", event_types=("crm.quoting.quote_sent",))
    disabled = replace(endpoint(), id="c", status=EndpointStatus.DISABLED)
    paused = replace(endpoint(), id="d", status=EndpointStatus.PAUSED)
    repo = Repo([wanted, other, disabled, paused])
    wakes: list[int] = []
    planner = DeliveryPlanner(lambda tenant: repo, lambda: wakes.append(1))  # type: ignore[arg-type,return-value]

    def event(at: datetime, id_: str = "e1") -> CloudEvent:
        return CloudEvent(id_, "crm.customer.created", "crm/customer", at, "t", "c1", {})

    await planner.on_event(event(T0 + timedelta(seconds=1)))
    await planner.on_event(event(T0 + timedelta(seconds=1)))  # redelivered: nothing new
    assert sorted(d.endpoint_id for d in repo.inserted) == ["a", "d"]
    assert len(wakes) == 1
    await planner.on_event(event(T0 - timedelta(minutes=5), "e0"))
    assert len(repo.inserted) == 2
