"""Subscriptions through the gateway, against real subgraph processes and real sockets.

The subgraphs (`things_subgraphs.py`) run as processes with the subgraphs' own app
(`crm_common.app.create_app`): ``things`` owns ``Subscription.thingChanged`` (the caller's own
things only), ``extras`` adds ``Thing.label``, so every event needs an ``_entities`` call. The
gateway runs in the test's event loop on a loopback port; clients speak graphql-transport-ws
(aiohttp WebSocket) and graphql-sse (a streamed POST/GET).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from tests.support.replicas import until

from crm_common.auth import issue_dev_token

from .conftest import SECRET, Subgraph, start_gateway

SCRIPT = Path(__file__).with_name("things_subgraphs.py")
WS_PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION = "subscription Watch { thingChanged { id name owner label } }"


def token(user: str = "u1", ttl_s: int = 3600) -> str:
    return issue_dev_token(SECRET, tenant="t1", roles=["admin"], user_id=user, ttl_s=ttl_s)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SubgraphProcess:
    kind: str
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def spawn(self) -> None:
        env = {**os.environ, "JWT_SECRET": SECRET, "LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), self.kind, str(self.port)], env=env
        )

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.spawn()

        async def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.kind} subgraph exited: {self.process.returncode}")
            try:
                async with session.get(self.url.replace("/graphql", "/healthz")) as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await until(up, 60, f"{self.kind} subgraph up")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    async def query(self, session: aiohttp.ClientSession, query: str) -> Any:
        headers = {"Authorization": f"Bearer {token()}"}
        async with session.post(self.url, json={"query": query}, headers=headers) as resp:
            return (await resp.json())["data"]


@dataclass
class Stack:
    things: SubgraphProcess
    extras: SubgraphProcess
    session: aiohttp.ClientSession
    url: str
    app: web.Application

    async def stats(self) -> dict[str, int]:
        data = await self.things.query(
            self.session, "{ subscriptionStats { started stopped active } }"
        )
        stats: dict[str, int] = data["subscriptionStats"]
        return stats

    async def entity_calls(self) -> int:
        calls: int = (await self.extras.query(self.session, "{ entityCalls }"))["entityCalls"]
        return calls

    async def change(self, tid: str, name: str, user: str = "u1") -> None:
        headers = {"Authorization": f"Bearer {token(user)}"}
        body = {"query": f'mutation {{ changeThing(id: "{tid}", name: "{name}") {{ id }} }}'}
        async with self.session.post(self.url, json=body, headers=headers) as resp:
            answer = await resp.json()
        assert answer == {"data": {"changeThing": {"id": tid}}}, answer

    async def wait_active(self, count: int) -> None:
        async def reached() -> bool:
            return (await self.stats())["active"] == count

        await until(reached, 30, f"{count} active subgraph subscriptions")

    async def gateway(self, **overrides: Any) -> tuple[web.AppRunner, str]:
        """Another gateway over the same subgraphs (other settings)."""
        runner, _app, url = await start_gateway(_subs(self.things, self.extras), **overrides)
        return runner, url


def _subs(things: SubgraphProcess, extras: SubgraphProcess) -> dict[str, Subgraph]:
    return {
        "things": Subgraph("things", None, url=things.url),
        "extras": Subgraph("extras", None, url=extras.url),
    }


GATEWAY_SETTINGS: dict[str, Any] = {
    "ws_init_timeout_s": 1.0,
    "ws_ping_interval_s": 0.5,
    "sse_heartbeat_s": 0.5,
    "max_subscriptions_per_connection": 3,
}


@pytest_asyncio.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    async with aiohttp.ClientSession() as session:
        things, extras = SubgraphProcess("things"), SubgraphProcess("extras")
        try:
            await asyncio.gather(things.start(session), extras.start(session))
            runner, app, url = await start_gateway(_subs(things, extras), **GATEWAY_SETTINGS)
            try:
                yield Stack(things, extras, session, url, app)
            finally:
                await runner.cleanup()
        finally:
            things.kill()
            extras.kill()


# -- clients ----------------------------------------------------------------------------------


class WsClient:
    """A graphql-transport-ws client over aiohttp."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        bearer: str | None = None,
        *,
        init: bool = True,
        header: bool = False,
    ) -> WsClient:
        headers = {"Authorization": f"Bearer {bearer}"} if header and bearer else {}
        ws = await session.ws_connect(url, protocols=(WS_PROTOCOL,), headers=headers)
        assert ws.protocol == WS_PROTOCOL
        client = cls(ws)
        if init:
            payload = {"Authorization": f"Bearer {bearer}"} if bearer and not header else {}
            await client.send({"type": "connection_init", "payload": payload})
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def subscribe(self, op_id: str, query: str = SUBSCRIPTION) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query}})

    async def receive(self, timeout_s: float = 30, *, skip_pings: bool = True) -> dict[str, Any]:
        """The next message (``{"closed": code, "reason": ...}`` once the socket closed)."""
        async with asyncio.timeout(timeout_s):
            while True:
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    message: dict[str, Any] = json.loads(msg.data)
                    if skip_pings and message.get("type") in ("ping", "pong"):
                        continue
                    return message
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    return {"closed": self.ws.close_code, "reason": msg.extra}

    async def acked(self) -> None:
        assert await self.receive() == {"type": "connection_ack"}

    async def close(self) -> None:
        await self.ws.close()


class SseClient:
    """A graphql-sse (distinct connections) client: one streamed response per operation."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments = 0

    @classmethod
    async def post(
        cls, session: aiohttp.ClientSession, url: str, bearer: str | None, query: str
    ) -> SseClient:
        headers = {"Accept": "text/event-stream"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = await session.post(url, json={"query": query}, headers=headers)
        return cls(response)

    @classmethod
    async def get(
        cls, session: aiohttp.ClientSession, url: str, bearer: str, query: str
    ) -> SseClient:
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {bearer}"}
        response = await session.get(url, params={"query": query}, headers=headers)
        return cls(response)

    async def event(self, timeout_s: float = 30) -> tuple[str, Any]:
        """The next event (name, parsed data); comment lines are counted."""
        name, data = "message", []
        async with asyncio.timeout(timeout_s):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    return "eof", None
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and (data or name != "message"):
                    text = "\n".join(data)
                    return name, json.loads(text) if text else None

    def close(self) -> None:
        self.response.close()


def _event(tid: str, name: str, owner: str = "u1") -> dict[str, Any]:
    return {"thingChanged": {"id": tid, "name": name, "owner": owner, "label": f"label-{tid}"}}


# -- tests ------------------------------------------------------------------------------------


async def test_websocket_event_with_entity_resolution(stack: Stack) -> None:
    before = await stack.stats()
    calls = await stack.entity_calls()
    client = await WsClient.connect(stack.session, stack.url, token("u1"))
    await client.acked()
    await client.subscribe("a")
    await stack.wait_active(before["active"] + 1)
    await stack.change("t1", "ws-1")
    assert await client.receive() == {
        "id": "a",
        "type": "next",
        "payload": {"data": _event("t1", "ws-1")},
    }
    await stack.change("t3", "ws-3")
    assert await client.receive() == {
        "id": "a",
        "type": "next",
        "payload": {"data": _event("t3", "ws-3")},
    }
    assert await stack.entity_calls() >= calls + 2  # one _entities call per event
    await client.close()
    await stack.wait_active(before["active"])


async def test_token_in_the_upgrade_request_and_queries_over_websocket(stack: Stack) -> None:
    client = await WsClient.connect(stack.session, stack.url, token("u1"), header=True)
    await client.acked()
    await client.subscribe("q", '{ thing(id: "t2") { id owner label } }')
    assert await client.receive() == {
        "id": "q",
        "type": "next",
        "payload": {"data": {"thing": {"id": "t2", "owner": "u2", "label": "label-t2"}}},
    }
    assert await client.receive() == {"id": "q", "type": "complete"}
    await client.close()


async def test_sse_post_and_get_with_entity_resolution(stack: Stack) -> None:
    before = await stack.stats()
    post = await SseClient.post(stack.session, stack.url, token("u1"), SUBSCRIPTION)
    get = await SseClient.get(stack.session, stack.url, token("u1"), SUBSCRIPTION)
    assert post.response.status == 200
    assert post.response.headers["Content-Type"].startswith("text/event-stream")
    await stack.wait_active(before["active"] + 2)
    await stack.change("t1", "sse-1")
    assert await post.event() == ("next", {"data": _event("t1", "sse-1")})
    assert await get.event() == ("next", {"data": _event("t1", "sse-1")})
    post.close()
    get.close()
    await stack.wait_active(before["active"])  # a client that goes away stops the upstream


async def test_queries_over_sse_answer_once(stack: Stack) -> None:
    sse = await SseClient.post(stack.session, stack.url, token(), '{ thing(id: "t1") { id } }')
    assert await sse.event() == ("next", {"data": {"thing": {"id": "t1"}}})
    assert (await sse.event())[0] == "complete"
    sse.close()


async def test_plain_http_subscription_is_refused_with_a_hint(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {token()}"}
    async with stack.session.post(stack.url, json={"query": SUBSCRIPTION}, headers=headers) as r:
        body = await r.json()
    assert r.status == 400
    assert "text/event-stream" in body["errors"][0]["message"]


async def test_missing_or_bad_token_is_refused(stack: Stack) -> None:
    for bearer in (None, "not-a-token", token() + "x"):
        client = await WsClient.connect(stack.session, stack.url, bearer)
        assert await client.receive() == {"closed": 4403, "reason": "Forbidden"}
        sse = await SseClient.post(stack.session, stack.url, bearer, SUBSCRIPTION)
        assert sse.response.status == 401
        assert (await sse.response.json())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        sse.close()
    # The subgraph itself refuses an upgrade without a valid token (crm_common.app).
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await stack.session.ws_connect(stack.things.url, protocols=(WS_PROTOCOL,))
    assert refused.value.status == 401


async def test_subscribe_before_init_and_init_timeout(stack: Stack) -> None:
    early = await WsClient.connect(stack.session, stack.url, token(), init=False)
    await early.subscribe("x")
    assert await early.receive() == {"closed": 4401, "reason": "Unauthorized"}
    silent = await WsClient.connect(stack.session, stack.url, token(), init=False)
    closed = await silent.receive(10)
    assert closed == {"closed": 4408, "reason": "Connection initialisation timeout"}


async def test_token_expiry_closes_websocket_and_sse(stack: Stack) -> None:
    short = token("u1", ttl_s=3)
    client = await WsClient.connect(stack.session, stack.url, short)
    await client.acked()
    await client.subscribe("e")
    sse = await SseClient.post(stack.session, stack.url, short, SUBSCRIPTION)
    message = await client.receive(15)
    assert message["type"] == "error" and message["id"] == "e"
    assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await client.receive(15) == {"closed": 4403, "reason": "Forbidden"}
    name, data = await sse.event(15)
    assert name == "next" and data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await sse.event(15))[0] == "complete"
    sse.close()


async def test_cost_limit_refuses_a_subscription(stack: Stack) -> None:
    runner, url = await stack.gateway(max_cost=3)
    try:
        client = await WsClient.connect(stack.session, url, token())
        await client.acked()
        await client.subscribe("c")
        message = await client.receive()
        assert message["type"] == "error" and message["id"] == "c"
        assert message["payload"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
        await client.subscribe("ok", "subscription { thingChanged { id } }")  # cost 2: runs
        sse = await SseClient.post(stack.session, url, token(), SUBSCRIPTION)
        assert sse.response.status == 400
        body = await sse.response.json()
        assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
        sse.close()
        await client.close()
    finally:
        await runner.cleanup()
    deep_runner, deep_url = await stack.gateway(max_depth=1)
    try:
        client = await WsClient.connect(stack.session, deep_url, token())
        await client.acked()
        await client.subscribe("d")
        message = await client.receive()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["limit"] == "max_depth"
        await client.close()
    finally:
        await deep_runner.cleanup()


async def test_subscriptions_per_connection_are_capped(stack: Stack) -> None:
    before = await stack.stats()
    client = await WsClient.connect(stack.session, stack.url, token())
    await client.acked()
    for op_id in ("1", "2", "3", "4"):
        await client.subscribe(op_id)
    message = await client.receive()
    assert message["id"] == "4" and message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "SUBSCRIPTION_LIMIT_EXCEEDED"
    await stack.wait_active(before["active"] + 3)
    await client.close()
    await stack.wait_active(before["active"])


async def test_client_complete_stops_the_subgraph_subscription(stack: Stack) -> None:
    before = await stack.stats()
    client = await WsClient.connect(stack.session, stack.url, token())
    await client.acked()
    await client.subscribe("s1")
    await client.subscribe("s2")
    await stack.wait_active(before["active"] + 2)
    await client.send({"id": "s1", "type": "complete"})

    async def stopped() -> bool:
        stats = await stack.stats()
        return stats["stopped"] == before["stopped"] + 1 and stats["active"] == before["active"] + 1

    await until(stopped, 30, "the subgraph saw the stop")
    await stack.change("t1", "after-complete")
    message = await client.receive()
    assert message["id"] == "s2" and message["payload"]["data"]["thingChanged"]["name"] == (
        "after-complete"
    )
    await client.close()
    await stack.wait_active(before["active"])


async def test_two_users_only_see_their_own_events(stack: Stack) -> None:
    before = await stack.stats()
    alice = await WsClient.connect(stack.session, stack.url, token("u1"))
    bob = await WsClient.connect(stack.session, stack.url, token("u2"))
    await alice.acked()
    await bob.acked()
    await alice.subscribe("a")
    await bob.subscribe("b")
    sse_alice = await SseClient.post(stack.session, stack.url, token("u1"), SUBSCRIPTION)
    sse_bob = await SseClient.post(stack.session, stack.url, token("u2"), SUBSCRIPTION)
    await stack.wait_active(before["active"] + 4)
    await stack.change("t2", "bobs", user="u2")  # u2's thing first: u1 must never see it
    await stack.change("t1", "alices")
    assert (await alice.receive())["payload"] == {"data": _event("t1", "alices")}
    assert (await bob.receive())["payload"] == {"data": _event("t2", "bobs", "u2")}
    assert await sse_alice.event() == ("next", {"data": _event("t1", "alices")})
    assert await sse_bob.event() == ("next", {"data": _event("t2", "bobs", "u2")})
    for ws in (alice, bob):
        await ws.close()
    for sse in (sse_alice, sse_bob):
        sse.close()


async def test_heartbeats(stack: Stack) -> None:
    client = await WsClient.connect(stack.session, stack.url, token())
    await client.acked()
    assert await client.receive(10, skip_pings=False) == {"type": "ping"}
    await client.send({"type": "ping"})
    assert await client.receive(10, skip_pings=False) in ({"type": "pong"}, {"type": "ping"})
    await client.close()
    sse = await SseClient.post(stack.session, stack.url, token(), SUBSCRIPTION)

    with contextlib.suppress(TimeoutError):
        await sse.event(3)  # no event: comment lines only
    assert sse.comments > 0
    sse.close()


async def test_subgraph_death_ends_subscriptions_with_an_error() -> None:
    async with aiohttp.ClientSession() as session:
        things, extras = SubgraphProcess("things"), SubgraphProcess("extras")
        await asyncio.gather(things.start(session), extras.start(session))
        runner, _app, url = await start_gateway(_subs(things, extras), **GATEWAY_SETTINGS)
        try:
            client = await WsClient.connect(session, url, token())
            await client.acked()
            await client.subscribe("d")
            sse = await SseClient.post(session, url, token(), SUBSCRIPTION)

            async def both_active() -> bool:
                data = await things.query(session, "{ subscriptionStats { active } }")
                return bool(data["subscriptionStats"]["active"] == 2)

            await until(both_active, 30, "two subgraph subscriptions")
            things.kill()
            message = await client.receive()
            assert message["type"] == "next" and message["id"] == "d"
            error = message["payload"]["errors"][0]
            assert error["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
            assert await client.receive() == {"id": "d", "type": "complete"}
            name, data = await sse.event()
            assert name == "next"
            assert data["errors"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
            assert (await sse.event())[0] == "complete"
            sse.close()
            # The connection stays usable; a new subscription fails cleanly the same way.
            await client.subscribe("again")
            message = await client.receive()
            assert message["payload"]["errors"][0]["extensions"]["code"] == ("SUBGRAPH_UNAVAILABLE")
            assert await client.receive() == {"id": "again", "type": "complete"}
            await client.close()
        finally:
            await runner.cleanup()
            things.kill()
            extras.kill()


async def test_two_gateways_two_replicas_each_event_once() -> None:
    """Every client subscription holds one subgraph subscription on one replica.

    The event is published on both replicas (as every replica's LiveFeed sees every Kafka
    event): each subscriber still gets it exactly once. A replica that dies ends only its own
    subscriptions (error + complete); a new subscription goes to the one left.
    """
    async with aiohttp.ClientSession() as session:
        replicas = [SubgraphProcess("things"), SubgraphProcess("things")]
        extras = SubgraphProcess("extras")
        await asyncio.gather(*(p.start(session) for p in (*replicas, extras)))
        subs = {
            "things": Subgraph("things", None, url=f"{replicas[0].url},{replicas[1].url}"),
            "extras": Subgraph("extras", None, url=extras.url),
        }
        gateways = [await start_gateway(subs, **GATEWAY_SETTINGS) for _ in range(2)]
        try:
            clients = []
            for i in range(4):
                client = await WsClient.connect(session, gateways[i % 2][2], token("u1"))
                await client.acked()
                await client.subscribe(f"c{i}")
                clients.append(client)

            async def actives() -> list[int]:
                stats = [
                    await r.query(session, "{ subscriptionStats { active } }") for r in replicas
                ]
                return [s["subscriptionStats"]["active"] for s in stats]

            async def spread() -> bool:
                # Round robin gives [2, 2]; on a busy machine a slow readiness probe may eject a
                # replica for a moment and shift one, which this test must not mistake for a loss.
                counts = await actives()
                return sum(counts) == 4 and min(counts) > 0

            await until(spread, 60, "four subscriptions, spread over both replicas")
            on_dead_replica = (await actives())[0]
            headers = {"Authorization": f"Bearer {token('u1')}"}
            body = {"query": 'mutation { changeThing(id: "t1", name: "fan-out") { id } }'}
            for replica in replicas:
                async with session.post(replica.url, json=body, headers=headers) as resp:
                    assert resp.status == 200
            for i, client in enumerate(clients):
                message = await client.receive()
                assert message == {
                    "id": f"c{i}",
                    "type": "next",
                    "payload": {"data": _event("t1", "fan-out")},
                }
            replicas[0].kill()
            firsts = {asyncio.create_task(c.receive()): c for c in clients}
            done, pending = await asyncio.wait(firsts, timeout=30, return_when="FIRST_COMPLETED")
            while len(done) < on_dead_replica and pending:
                more, pending = await asyncio.wait(
                    pending, timeout=30, return_when="FIRST_COMPLETED"
                )
                done |= more
            for task in pending:
                task.cancel()
            ended = [firsts[task] for task in done]
            # Exactly the ones on the dead replica end; the others get no second event.
            assert len(ended) == on_dead_replica
            for task in done:
                message = task.result()
                assert message["type"] == "next", message
                error = message["payload"]["errors"][0]
                assert error["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
                assert (await firsts[task].receive())["type"] == "complete"
            for client in ended:  # resubscribe: the dead replica is ejected, the other serves
                await client.subscribe("again")

            async def moved() -> bool:
                alive = await replicas[1].query(session, "{ subscriptionStats { active } }")
                return bool(alive["subscriptionStats"]["active"] == 4)

            await until(moved, 60, "all four subscriptions on the live replica")
            for client in clients:
                await client.close()
        finally:
            for runner, _app, _url in gateways:
                await runner.cleanup()
            for process in (*replicas, extras):
                process.kill()


async def test_entity_subgraph_down_gives_an_error_event_and_the_subscription_goes_on() -> None:
    async with aiohttp.ClientSession() as session:
        things, extras = SubgraphProcess("things"), SubgraphProcess("extras")
        await asyncio.gather(things.start(session), extras.start(session))
        runner, _app, url = await start_gateway(
            _subs(things, extras), **GATEWAY_SETTINGS, subgraph_retries=0
        )
        stack = Stack(things, extras, session, url, _app)
        try:
            client = await WsClient.connect(session, url, token())
            await client.acked()
            await client.subscribe("x")
            await stack.wait_active(1)
            extras.kill()
            await stack.change("t1", "no-label")
            message = await client.receive()
            assert message["id"] == "x" and message["type"] == "next"
            payload = message["payload"]
            assert payload["data"] is None  # Thing.label is non-null, so is thingChanged
            assert payload["errors"][0]["path"] == ["thingChanged", "label"]
            assert payload["errors"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
            only_id = "subscription { thingChanged { id name } }"
            await client.subscribe("y", only_id)
            await stack.wait_active(2)
            await stack.change("t1", "still-on")
            got = {}
            for _ in range(2):
                message = await client.receive()
                got[message["id"]] = message["payload"]
            assert got["y"] == {"data": {"thingChanged": {"id": "t1", "name": "still-on"}}}
            assert got["x"]["errors"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
            await client.close()
        finally:
            await runner.cleanup()
            things.kill()
            extras.kill()
