"""Webhooks against the real stack: a receiver on 127.0.0.1 gets signed CloudEvents.

The e2e stack allows private networks (``WEBHOOKS_ALLOW_PRIVATE_NETWORKS``, scripts/stack.py)
and retries fast (conftest.py); the refusal of private addresses is checked here with the
setting off, against the stack's own database, and the HTTP client's delivery-time check on a
name that resolves to loopback.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import stack
from aiohttp import web
from pymongo import AsyncMongoClient

from crm_common.auth import Principal
from crm_common.errors import BadUserInput
from crm_common.events.envelope import CloudEvent
from crm_common.mongo import create_client, ensure_indexes
from crm_common.pagination import PageRequest
from crm_engagement.adapters.webhooks import (
    WEBHOOK_INDEXES,
    AiohttpWebhookHttp,
    MongoDeliveryQueue,
    MongoWebhookRepository,
    SystemResolver,
)
from crm_engagement.domain.webhook import RetryPolicy, verify
from crm_engagement.service.webhooks import (
    DeliveryPlanner,
    RegisterCommand,
    SenderSignal,
    SendResult,
    WebhookSender,
    WebhookService,
    WebhookSettings,
)
from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.engagement_support import CREATE_CUSTOMER, client, crafted_event, publish
from tests.support.stores import scratch_database

pytestmark = [pytest.mark.e2e]

REGISTER = """mutation($i: RegisterWebhookEndpointInput!) {
  registerWebhookEndpoint(input: $i) { secret endpoint { id url status eventTypes } } }"""
DELIVERIES = """query($e: ID!, $s: WebhookDeliveryStatus) {
  webhookDeliveries(endpointId: $e, first: 20, status: $s) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id eventId eventType status attemptCount lastResponseStatus
      attempts(first: 10) { edges { node { number responseStatus durationMs error
        requestBodyBytes requestHeaders finished } } } } } } }"""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    base_url: str
    received: list[Received] = field(default_factory=list)
    # Per path: statuses to answer, in order; then 200.
    scripts: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def for_customer(self, path: str, customer_id: str) -> list[Received]:
        return [r for r in self.at(path) if r.event["data"].get("customer_id") == customer_id]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(base_url="")

    async def handle(request: web.Request) -> web.Response:
        path = request.match_info["path"]
        state.received.append(Received(path, dict(request.headers), await request.read()))
        script = state.scripts.get(path)
        status = script.pop(0) if script else 200
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    app = web.Application()
    app.router.add_post("/{path}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base_url = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


async def register(
    admin: GraphQLClient, url: str, types: list[str] | None = None
) -> tuple[str, str]:
    data = (
        await admin.execute(
            REGISTER, {"i": {"url": url, "eventTypes": types or [], "description": "e2e"}}
        )
    ).ok()["registerWebhookEndpoint"]
    assert data["endpoint"]["status"] == "ACTIVE"
    assert data["secret"].startswith("whsec_")
    return data["endpoint"]["id"], data["secret"]


async def create_customer(owner: GraphQLClient, name: str) -> str:
    data = (await owner.execute(CREATE_CUSTOMER, {"input": {"name": name}})).ok()
    customer_id: str = data["createCustomer"]["customer"]["id"]
    return customer_id


async def deliveries(
    admin: GraphQLClient, endpoint_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    data = (await admin.execute(DELIVERIES, {"e": endpoint_id, "s": status})).ok()
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


def assert_signed(message: Received, secret: str) -> None:
    headers = {k.lower(): v for k, v in message.headers.items()}
    assert verify(
        secret,
        headers["webhook-id"],
        int(headers["webhook-timestamp"]),
        message.body,
        headers["webhook-signature"],
    ), headers


def webhook_id(message: Received) -> str:
    return {k.lower(): v for k, v in message.headers.items()}["webhook-id"]


async def test_an_event_reaches_the_receiver_signed_and_only_its_tenants(
    live_stack: stack.StackConfig, receiver: Receiver
) -> None:
    tenant_a, tenant_b = new_tenant(), new_tenant()
    admin_a = client(live_stack, tenant_a, ["admin"])
    admin_b = client(live_stack, tenant_b, ["admin"])
    endpoint_a, secret_a = await register(admin_a, receiver.url("a"), ["crm.customer.created"])
    _, secret_b = await register(admin_b, receiver.url("b"))

    started = time.monotonic()
    customer_a = await create_customer(admin_a, "Webhook Alpha Trading")
    [message] = await eventually(
        lambda: _some(receiver.for_customer("a", customer_a)), timeout_s=90, interval_s=0.02
    )
    print(f"\n[webhooks] mutation sent → partner received: {(message.at - started) * 1000:.0f} ms")
    assert_signed(message, secret_a)
    event = message.event
    assert event["type"] == "crm.customer.created" and event["specversion"] == "1.0"
    assert event["tenantid"] == tenant_a and event["data"]["name"] == "Webhook Alpha Trading"
    assert message.headers["Content-Type"].startswith("application/cloudevents+json")

    [delivery] = await eventually(
        lambda: _some_delivered(admin_a, endpoint_a, event["id"]), timeout_s=60
    )
    assert delivery["id"] == webhook_id(message)
    assert delivery["attemptCount"] == 1 and delivery["lastResponseStatus"] == 200
    [attempt] = [e["node"] for e in delivery["attempts"]["edges"]]
    assert attempt["responseStatus"] == 200 and attempt["finished"]
    assert attempt["requestBodyBytes"] == len(message.body) and attempt["durationMs"] >= 0
    assert attempt["requestHeaders"]["webhook-id"] == delivery["id"]

    # Tenant B's own event reaches B (a barrier: A's event went by long before), and B's
    # endpoint has nothing of tenant A.
    customer_b = await create_customer(admin_b, "Webhook Beta Trading")
    # (B's endpoint takes every type: other events about the customer may arrive too, such
    # as the managers' review notification; the creation is the one to wait for.)
    [message_b] = await eventually(
        lambda: _some(
            [
                r
                for r in receiver.for_customer("b", customer_b)
                if r.event["type"] == "crm.customer.created"
            ]
        ),
        timeout_s=90,
    )
    assert_signed(message_b, secret_b)
    assert {r.event["tenantid"] for r in receiver.at("b")} == {tenant_b}
    assert all(r.event["tenantid"] == tenant_a for r in receiver.at("a"))
    assert not receiver.for_customer("b", customer_a)
    # Tenant B's admin cannot read A's endpoint or its log.
    response = await admin_b.execute(DELIVERIES, {"e": endpoint_a})
    assert response.error_codes() == ["NOT_FOUND"]

    # Redeliver: the same webhook-id again, one more attempt in the log.
    redelivered = (
        await admin_a.execute(
            """mutation($d: ID!) { redeliverWebhook(input: {deliveryId: $d}) {
              delivery { id status } } }""",
            {"d": delivery["id"]},
        )
    ).ok()["redeliverWebhook"]["delivery"]
    assert redelivered["id"] == delivery["id"]
    again = await eventually(
        lambda: _at_least(receiver.for_customer("a", customer_a), 2), timeout_s=60
    )
    assert [webhook_id(m) for m in again] == [delivery["id"]] * 2
    assert_signed(again[1], secret_a)
    await eventually(
        lambda: _some_delivered(admin_a, endpoint_a, event["id"], attempts=2), timeout_s=60
    )


async def test_a_failing_receiver_gets_the_event_exactly_once_more_after_500s(
    live_stack: stack.StackConfig, receiver: Receiver
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    receiver.scripts["flaky"] = [500, 500, 500]
    endpoint, secret = await register(admin, receiver.url("flaky"), ["crm.customer.created"])
    customer = await create_customer(admin, "Webhook Flaky Receiver Ltd")

    messages = await eventually(
        lambda: _at_least(receiver.for_customer("flaky", customer), 4), timeout_s=120
    )
    gaps = [round((b.at - a.at) * 1000) for a, b in itertools.pairwise(messages)]
    print(f"\n[webhooks] gaps between the 4 attempts (ms, e2e schedule): {gaps}")
    event_id = messages[0].event["id"]
    [delivery] = await eventually(lambda: _some_delivered(admin, endpoint, event_id), timeout_s=60)
    statuses = [e["node"]["responseStatus"] for e in delivery["attempts"]["edges"]]
    assert statuses == [500, 500, 500, 200]
    assert delivery["attemptCount"] == 4
    assert len({webhook_id(m) for m in messages}) == 1 == len({m.body for m in messages})
    for message in messages:
        assert_signed(message, secret)

    # Nothing more for that event: a later event arriving is the barrier.
    later = await create_customer(admin, "Webhook Flaky Receiver Later Ltd")
    await eventually(lambda: _some(receiver.for_customer("flaky", later)), timeout_s=90)
    assert len(receiver.for_customer("flaky", customer)) == 4


async def test_a_paused_endpoint_queues_and_sends_on_resume(
    live_stack: stack.StackConfig, receiver: Receiver
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    endpoint, secret = await register(admin, receiver.url("paused"), ["crm.customer.created"])
    paused = (
        await admin.execute(
            """mutation($id: ID!) { pauseWebhookEndpoint(input: {id: $id}) {
              endpoint { status } } }""",
            {"id": endpoint},
        )
    ).ok()
    assert paused["pauseWebhookEndpoint"]["endpoint"]["status"] == "PAUSED"
    customer = await create_customer(admin, "Webhook Paused Partner")
    pending = await eventually(lambda: _some_list(deliveries(admin, endpoint, "PENDING")))
    assert pending[0]["attemptCount"] == 0
    assert not receiver.at("paused")

    resumed = (
        await admin.execute(
            """mutation($id: ID!) { resumeWebhookEndpoint(input: {id: $id}) {
              endpoint { status } } }""",
            {"id": endpoint},
        )
    ).ok()
    assert resumed["resumeWebhookEndpoint"]["endpoint"]["status"] == "ACTIVE"
    [message] = await eventually(
        lambda: _some(receiver.for_customer("paused", customer)), timeout_s=60
    )
    assert_signed(message, secret)
    assert webhook_id(message) == pending[0]["id"]


async def test_rotation_signs_with_old_and_new_secret(
    live_stack: stack.StackConfig, receiver: Receiver
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    endpoint, old = await register(admin, receiver.url("rotated"), ["crm.customer.created"])
    rotated = (
        await admin.execute(
            """mutation($id: ID!) { rotateWebhookSecret(input: {id: $id, gracePeriodHours: 1}) {
              secret endpoint { signingSecrets oldSecretExpiresAt } } }""",
            {"id": endpoint},
        )
    ).ok()["rotateWebhookSecret"]
    new = rotated["secret"]
    assert new != old and rotated["endpoint"]["signingSecrets"] == 2
    assert rotated["endpoint"]["oldSecretExpiresAt"]
    customer = await create_customer(admin, "Webhook Rotating Partner")
    [message] = await eventually(
        lambda: _some(receiver.for_customer("rotated", customer)), timeout_s=90
    )
    signatures = message.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert_signed(message, old)
    assert_signed(message, new)
    # The secret is never readable afterwards.
    listed = (await admin.execute("{ webhookEndpoints { edges { node { id } } } }")).ok()
    assert [e["node"]["id"] for e in listed["webhookEndpoints"]["edges"]] == [endpoint]

    deleted = (
        await admin.execute(
            "mutation($id: ID!) { deleteWebhookEndpoint(input: {id: $id}) { deletedId } }",
            {"id": endpoint},
        )
    ).ok()
    assert deleted["deleteWebhookEndpoint"]["deletedId"] == endpoint
    listed = (await admin.execute("{ webhookEndpoints { totalCount } }")).ok()
    assert listed["webhookEndpoints"]["totalCount"] == 0
    response = await admin.execute(DELIVERIES, {"e": endpoint})
    assert response.error_codes() == ["NOT_FOUND"]


async def test_only_admins_register_and_bad_input_changes_nothing(
    live_stack: stack.StackConfig, receiver: Receiver
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    for role in ("sales_rep", "sales_manager", "service_agent", "analyst"):
        other = client(live_stack, tenant, [role])
        response = await other.execute(
            REGISTER, {"i": {"url": receiver.url("x"), "eventTypes": []}}
        )
        assert response.error_codes() == ["FORBIDDEN"], (role, response.body)
        listed = await other.execute("{ webhookEndpoints { totalCount } }")
        assert listed.error_codes() == ["FORBIDDEN"]
    for variables, field_name in [
        ({"url": "ftp://example.com/x"}, "input.url"),
        ({"url": "https://user:pw@example.com/x"}, "input.url"),
        ({"url": receiver.url("x"), "eventTypes": ["crm.customer.nope"]}, "input.eventTypes"),
        ({"url": receiver.url("x"), "description": "d" * 501}, "input.description"),
    ]:
        response = await admin.execute(REGISTER, {"i": variables})
        assert response.error_codes() == ["BAD_USER_INPUT"], response.body
        assert response.errors[0]["extensions"]["field"] == field_name
    listed = (await admin.execute("{ webhookEndpoints { totalCount } }")).ok()
    assert listed["webhookEndpoints"]["totalCount"] == 0


async def test_private_networks_are_refused_when_the_setting_is_off(
    live_stack: stack.StackConfig, receiver: Receiver
) -> None:
    """At registration (the service on the stack's database) and at delivery time (the HTTP
    client resolving a name to loopback: what a DNS rebinding would do)."""
    tenant = new_tenant()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(live_stack.mongodb_uri)
    try:
        repository = MongoWebhookRepository(mongo["crm_engagement"], tenant)
        service = WebhookService(
            Principal(user_id="admin", tenant_id=tenant, roles=frozenset({"admin"})),
            repository,
            SystemResolver(),
            WebhookSettings(allow_private_networks=False),
            lambda: None,
            lambda: ["crm.customer.created"],
        )
        port = receiver.base_url.rsplit(":", 1)[1]
        for url in (
            receiver.url("private"),
            f"http://localhost:{port}/private",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/hook",
            "http://[::1]/hook",
        ):
            with pytest.raises(BadUserInput) as raised:
                await service.register(RegisterCommand(url=url))
            assert raised.value.field == "input.url"
            assert raised.value.details["setting"] == "WEBHOOKS_ALLOW_PRIVATE_NETWORKS"
        assert await repository.count_endpoints() == 0
    finally:
        await mongo.close()

    http = AiohttpWebhookHttp(allow_private_networks=False, timeout_s=5)
    try:
        for url in (f"http://localhost:{port}/private", receiver.url("private")):
            result = await http.post(url, {"webhook-id": str(uuid.uuid4())}, b"{}")
            assert result.status is None and (result.error or "").startswith("refused"), result
    finally:
        await http.close()
    assert not receiver.at("private")


async def _some(items: list[Received]) -> list[Received] | None:
    return items or None


async def _at_least(items: list[Received], n: int) -> list[Received] | None:
    return items if len(items) >= n else None


async def _some_list(pending: Any) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = await pending
    return found or None


async def _some_delivered(
    admin: GraphQLClient, endpoint: str, event_id: str, attempts: int | None = None
) -> list[dict[str, Any]] | None:
    found = [
        d
        for d in await deliveries(admin, endpoint, "DELIVERED")
        if d["eventId"] == event_id and (attempts is None or d["attemptCount"] >= attempts)
    ]
    return found or None


class _CountingHttp:
    def __init__(self) -> None:
        self.calls = 0

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        self.calls += 1
        await asyncio.sleep(0.05)
        return SendResult(200, "ok", 50.0)


async def test_two_replicas_plan_and_send_a_delivery_once(live_stack: stack.StackConfig) -> None:
    """Two processes' worth of planners and senders (one connection each, as two replicas
    have) on a scratch database of the real store: one delivery, one attempt, one POST."""
    async with scratch_database(live_stack.mongodb_uri, "webhooks-a") as db_a:
        client_b = create_client(live_stack.mongodb_uri, "webhooks-b")
        db_b = client_b[db_a.name]
        try:
            await ensure_indexes(db_a, dict(WEBHOOK_INDEXES))
            tenant = new_tenant()
            admin = Principal(user_id="admin", tenant_id=tenant, roles=frozenset({"admin"}))
            service = WebhookService(
                admin,
                MongoWebhookRepository(db_a, tenant),
                SystemResolver(),
                WebhookSettings(allow_private_networks=True),
                lambda: None,
                lambda: ["crm.customer.created"],
            )
            endpoint, _ = await service.register(RegisterCommand(url="http://127.0.0.1:9/x"))
            event = CloudEvent(
                id=str(uuid.uuid4()),
                type="crm.customer.created",
                source="crm/customer",
                time=datetime.now(UTC),
                tenant_id=tenant,
                key="c1",
                data={"customer_id": "c1"},
            )
            planners = [
                DeliveryPlanner(functools.partial(MongoWebhookRepository, db), lambda: None)
                for db in (db_a, db_b)
            ]
            await asyncio.gather(*(p.on_event(event) for p in planners for _ in range(3)))
            page = await MongoWebhookRepository(db_a, tenant).deliveries(
                endpoint.id, None, PageRequest(first=10)
            )
            assert page.total_count == 1
            [(delivery, _)] = page.items

            http = _CountingHttp()
            senders = [
                WebhookSender(MongoDeliveryQueue(db), http, SenderSignal(), retry=RetryPolicy())
                for db in (db_a, db_b)
            ]
            await asyncio.gather(*(s.attempt(delivery) for s in senders for _ in range(5)))
            assert http.calls == 1
            attempts = await MongoWebhookRepository(db_a, tenant).attempts(
                delivery.id, PageRequest(first=10)
            )
            assert [a.number for a, _ in attempts.items] == [1]
            done = await MongoWebhookRepository(db_a, tenant).get_delivery(delivery.id)
            assert done is not None and done.status.value == "DELIVERED" and done.attempts == 1
        finally:
            await client_b.close()


async def test_a_burst_of_events_arrives_once_each(
    live_stack: stack.StackConfig, receiver: Receiver
) -> None:
    """200 events published straight to a topic (a type without a contract: only the timeline
    and the webhooks look at it), one endpoint for every type: each arrives exactly once."""
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    endpoint, _ = await register(admin, receiver.url("burst"))
    now = datetime.now(UTC)
    events = [
        crafted_event("crm.e2e.webhook_probe", tenant, f"c{i % 7}", {"n": i}, now)
        for i in range(200)
    ]
    started = time.monotonic()
    await publish(live_stack, "crm.customer.v1", events)
    published = time.monotonic() - started
    await publish(live_stack, "crm.customer.v1", events[:20])  # redelivered: nothing new
    arrived = await eventually(
        lambda: _at_least(receiver.at("burst"), 200), timeout_s=180, interval_s=0.05
    )
    took = max(m.at for m in arrived) - started
    print(
        f"\n[webhooks] 200 events published in {published:.2f} s (one send_and_wait each); "
        f"all at the partner {took:.2f} s after the first was sent"
    )
    times = (
        await admin.execute(
            """query($e: ID!) { webhookDeliveries(endpointId: $e, first: 200) {
              edges { node { createdAt deliveredAt } } } }""",
            {"e": endpoint},
        )
    ).ok()["webhookDeliveries"]["edges"]
    created = sorted(datetime.fromisoformat(e["node"]["createdAt"]) for e in times)
    delivered = sorted(
        datetime.fromisoformat(e["node"]["deliveredAt"]) for e in times if e["node"]["deliveredAt"]
    )
    print(
        f"[webhooks] planned over {(created[-1] - created[0]).total_seconds():.2f} s, "
        f"last delivered {(delivered[-1] - created[-1]).total_seconds():.2f} s after the last "
        f"was planned"
    )
    # A later event is the barrier for anything duplicated.
    late = crafted_event("crm.e2e.webhook_probe", tenant, "late", {"n": -1}, now)
    await publish(live_stack, "crm.customer.v1", [late])
    await eventually(
        lambda: _some([m for m in receiver.at("burst") if m.event["id"] == late.id]), timeout_s=60
    )
    ids = [m.event["id"] for m in receiver.at("burst")]
    assert len(ids) == len(set(ids)) == 201
    assert set(ids) == {e.id for e in events} | {late.id}
