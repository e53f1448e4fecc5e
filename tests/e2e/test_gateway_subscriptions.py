"""Subscriptions through the real gateway to the real services (the production path).

A follow-up reminder reaches its assignee as ``notificationAdded`` over graphql-transport-ws
(WebSocket) and over GraphQL over SSE at the gateway, with every service replica running; the
same user id in another tenant and another rep of the tenant, subscribed the same way, get
nothing. The gateway's own protocol and execution details are tested in
gateway/tests/test_subscriptions.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stack

from tests.e2e.client import eventually, new_tenant, token_for
from tests.e2e.engagement_support import client, known_customer
from tests.e2e.live_support import Subscriber, live_listeners, subscribe
from tests.e2e.test_notifications import ADDED, no_reminder_lead, schedule

pytestmark = [pytest.mark.e2e]

ENGAGEMENT = next(c for c in stack.SERVICES if c.name == "engagement")


class SseSubscriber:
    """One GraphQL-over-SSE subscription (distinct connections mode): POST with
    ``Accept: text/event-stream``; keeps the ``next`` payloads in order."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.completed = False

    async def read(self, response: httpx.Response) -> None:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event == "next":
                payload = json.loads(line.removeprefix("data:").strip() or "{}")
                if payload.get("data") is not None:
                    self.results.append(payload["data"])
                self.errors += payload.get("errors") or []
            elif line.startswith("data:") and event == "complete":
                self.completed = True
                return


@contextlib.asynccontextmanager
async def subscribe_sse(url: str, token: str, query: str) -> AsyncIterator[SseSubscriber]:
    subscriber = SseSubscriber()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http,
        http.stream("POST", url, json={"query": query}, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        reader = asyncio.create_task(subscriber.read(response))
        try:
            yield subscriber
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader


async def _engagement_listeners(config: stack.StackConfig) -> float:
    counts = [await live_listeners(url) for url in config.service_urls(ENGAGEMENT)]
    return sum(counts)


async def test_notification_added_through_the_gateway_over_ws_and_sse(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-gw")
    await no_reminder_lead(live_stack, tenant)
    customer = await known_customer(rep, "Gateway Live Co")
    token = token_for(live_stack.var_dir, tenant, ["sales_rep"], user_id="rep-gw")
    other_rep = token_for(live_stack.var_dir, tenant, ["sales_rep"], user_id="rep-gw-other")
    elsewhere = token_for(live_stack.var_dir, new_tenant(), ["sales_rep"], user_id="rep-gw")
    url = live_stack.gateway_url

    async with contextlib.AsyncExitStack() as stack_cm:
        before = await _engagement_listeners(live_stack)
        ws: Subscriber = await stack_cm.enter_async_context(subscribe(url, token, ADDED))
        sse = await stack_cm.enter_async_context(subscribe_sse(url, token, ADDED))
        bystanders = [
            await stack_cm.enter_async_context(subscribe(url, other_rep, ADDED)),
            await stack_cm.enter_async_context(subscribe(url, elsewhere, ADDED)),
        ]

        async def all_listening() -> bool:
            # Each gateway subscription holds one subscription at an engagement replica.
            return await _engagement_listeners(live_stack) >= before + 4

        await eventually(all_listening, timeout_s=60, interval_s=0.2)
        followup = await schedule(rep, customer, "call through the gateway")

        async def both_kinds_arrived() -> bool:
            wanted = {"FOLLOWUP_DUE", "FOLLOWUP_OVERDUE"}
            ws_kinds = {r["notificationAdded"]["kind"] for r in ws.results}
            sse_kinds = {r["notificationAdded"]["kind"] for r in sse.results}
            return wanted <= ws_kinds and wanted <= sse_kinds

        await eventually(both_kinds_arrived, timeout_s=90, interval_s=0.2)
        for results in (ws.results, sse.results):
            items = [r["notificationAdded"] for r in results]
            assert {item["recordId"] for item in items} == {followup}
            assert len({item["id"] for item in items}) == len(items) == 2  # each once
            assert {item["customerId"] for item in items} == {customer}
        assert not ws.errors and not sse.errors
        # The inbox holds the same items the subscriptions delivered.
        inbox = (await rep.execute("{ notifications(first: 10) { edges { node { id } } } }")).ok()
        inbox_ids = {e["node"]["id"] for e in inbox["notifications"]["edges"]}
        assert {r["notificationAdded"]["id"] for r in ws.results} == inbox_ids
        for bystander in bystanders:
            assert bystander.results == [] and not bystander.errors


async def test_a_subscription_without_a_token_is_refused_at_the_gateway(
    live_stack: stack.StackConfig,
) -> None:
    url = live_stack.gateway_url
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            url, json={"query": ADDED}, headers={"Accept": "text/event-stream"}
        )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
