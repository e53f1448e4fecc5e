"""Subgraph retries (queries only) and the per-subgraph circuit breaker, over real HTTP.

The flaky subgraph drops the connection without answering for its first ``drops`` requests,
which the client sees as a connection error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import strawberry
from aiohttp import web

from crm_gateway.federation.execution.client import SubgraphClient, SubgraphFailure
from crm_gateway.federation.supergraph.composition import compose
from crm_gateway.http.app import create_app
from crm_gateway.settings import GatewaySettings

from .conftest import SECRET, make_token


@dataclass
class Flaky:
    url: str
    drops: int = 0
    attempts: int = 0
    answer: dict[str, Any] = field(default_factory=lambda: {"ok": True})


@pytest_asyncio.fixture
async def flaky() -> AsyncIterator[Flaky]:
    server = Flaky(url="")

    async def handler(request: web.Request) -> web.StreamResponse:
        server.attempts += 1
        if server.drops > 0:
            server.drops -= 1
            assert request.transport is not None
            request.transport.close()  # no response at all: a connection error for the client
            return web.Response()
        return web.json_response({"data": server.answer})

    app = web.Application()
    app.router.add_post("/graphql", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    yield server
    await runner.cleanup()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # No keep-alive, so every attempt is a fresh connection the server can drop.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        yield s


async def test_query_retried_after_connection_errors(
    flaky: Flaky, session: aiohttp.ClientSession
) -> None:
    client = SubgraphClient(session, 5, retries=2, backoff_s=0.001)
    flaky.drops = 2
    body = await client.request("s", flaky.url, "{ ok }", {}, None, retry=True)
    assert body == {"data": {"ok": True}}
    assert flaky.attempts == 3


async def test_retries_are_bounded(flaky: Flaky, session: aiohttp.ClientSession) -> None:
    client = SubgraphClient(session, 5, retries=2, backoff_s=0.001)
    flaky.drops = 10
    with pytest.raises(SubgraphFailure) as failure:
        await client.request("s", flaky.url, "{ ok }", {}, None, retry=True)
    assert failure.value.code == "SUBGRAPH_UNAVAILABLE"
    assert flaky.attempts == 3


async def test_mutations_are_never_retried(flaky: Flaky, session: aiohttp.ClientSession) -> None:
    client = SubgraphClient(session, 5, retries=2, backoff_s=0.001)
    flaky.drops = 1
    with pytest.raises(SubgraphFailure):
        await client.request("s", flaky.url, "mutation { ok }", {}, None, retry=False)
    assert flaky.attempts == 1


async def test_circuit_opens_fails_fast_then_half_opens(
    flaky: Flaky, session: aiohttp.ClientSession
) -> None:
    now = [1000.0]
    client = SubgraphClient(
        session, 5, breaker_threshold=2, breaker_open_s=10, clock=lambda: now[0]
    )
    flaky.drops = 100
    for _ in range(2):
        with pytest.raises(SubgraphFailure):
            await client.request("s", flaky.url, "{ ok }", {}, None)
    assert flaky.attempts == 2
    with pytest.raises(SubgraphFailure) as failure:
        await client.request("s", flaky.url, "{ ok }", {}, None)
    assert failure.value.code == "SUBGRAPH_UNAVAILABLE"
    assert "circuit open" in failure.value.message
    assert flaky.attempts == 2  # failed fast, the subgraph was not called
    # Another subgraph has its own breaker.
    flaky.drops = 0
    assert await client.request("other", flaky.url, "{ ok }", {}, None) == {"data": {"ok": True}}
    assert flaky.attempts == 3
    # After the open period one trial call goes through; a failure re-opens at once.
    now[0] += 11
    flaky.drops = 1
    with pytest.raises(SubgraphFailure):
        await client.request("s", flaky.url, "{ ok }", {}, None)
    assert flaky.attempts == 4
    with pytest.raises(SubgraphFailure):
        await client.request("s", flaky.url, "{ ok }", {}, None)
    assert flaky.attempts == 4
    # A success after the next open period closes the circuit again.
    now[0] += 11
    assert await client.request("s", flaky.url, "{ ok }", {}, None) == {"data": {"ok": True}}
    flaky.drops = 1
    with pytest.raises(SubgraphFailure):
        await client.request("s", flaky.url, "{ ok }", {}, None)
    assert await client.request("s", flaky.url, "{ ok }", {}, None) == {"data": {"ok": True}}
    assert flaky.attempts == 7


@strawberry.type
class _Query:
    hello: str = "hi"


@strawberry.type
class _Mutation:
    @strawberry.mutation
    def bump(self) -> int:
        return 1


async def test_gateway_retries_queries_not_mutations_and_breaks_the_circuit(
    flaky: Flaky,
) -> None:
    sdl = strawberry.federation.Schema(query=_Query, mutation=_Mutation).as_str()
    settings = GatewaySettings(
        subgraphs=f"s={flaky.url}",
        jwt_secret=SECRET,
        subgraph_retries=1,
        retry_backoff_s=0.001,
        breaker_threshold=2,
        breaker_open_s=60,
    )
    app = create_app(settings, supergraph=compose({"s": (flaky.url, sdl)}))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    headers = {"Authorization": f"Bearer {make_token()}"}

    async def post(query: str) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as client,
            client.post(url, json={"query": query}, headers=headers) as resp,
        ):
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body

    try:
        flaky.answer = {"hello": "hi"}
        flaky.drops = 1
        assert await post("{ hello }") == {"data": {"hello": "hi"}}
        assert flaky.attempts == 2  # dropped once, retried once
        flaky.drops = 1
        body = await post("mutation { bump }")
        assert body["errors"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
        assert flaky.attempts == 3  # the mutation was not repeated
        flaky.drops = 100
        await post("{ hello }")  # second consecutive failure (after its retry): circuit opens
        assert flaky.attempts == 5
        body = await post("{ hello }")
        assert "circuit open" in body["errors"][0]["message"]
        assert body["errors"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
        assert flaky.attempts == 5
    finally:
        await runner.cleanup()
