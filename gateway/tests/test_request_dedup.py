"""Incoming request deduplication (`GATEWAY_DEDUP_REQUESTS`), over real HTTP.

A counting subgraph holds every request until the test releases it, so the callers are all in
flight together. Subgraph-fetch sharing (`GATEWAY_DEDUP_INFLIGHT`, `test_dedup.py`) is off
here, so every execution of the gateway reaches the subgraph: the count is the number of
executions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web
from tests.support.replicas import until

from crm_gateway.edge.dedup import InflightGroup
from crm_gateway.federation.supergraph.file import parse_supergraph
from crm_gateway.gateway import Gateway
from crm_gateway.http.app import STATE, create_app
from crm_gateway.settings import GatewaySettings

from .federation_kit import JOIN_HEADER

SUPERGRAPH = (
    JOIN_HEADER.replace("{ query: Query }", "{ query: Query mutation: Mutation }")
    + """
enum join__Graph { S @join__graph(name: "s", url: "{s}") }
type Query @join__type(graph: S) { me(n: Int): String }
type Mutation @join__type(graph: S) { touch: String }
"""
)


@dataclass
class Counting:
    url: str = ""
    requests: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest_asyncio.fixture
async def subgraph() -> AsyncIterator[Counting]:
    server = Counting()

    async def handler(request: web.Request) -> web.StreamResponse:
        server.requests += 1
        body = await request.json()
        await server.release.wait()
        who = f"{request.headers.get('Authorization')}|{request.headers.get('Accept-Language')}"
        name = "touch" if "touch" in body["query"] else "me"
        return web.json_response({"data": {name: who}})

    app = web.Application()
    app.router.add_post("/graphql", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    yield server
    await runner.cleanup()


@dataclass
class Edge:
    """The gateway over the counting subgraph."""

    url: str
    gateway: Gateway
    session: aiohttp.ClientSession

    async def post(self, query: str, headers: dict[str, str]) -> Any:
        async with self.session.post(self.url, json={"query": query}, headers=headers) as resp:
            return await resp.json()


@asynccontextmanager
async def edge(subgraph: Counting, dedup_requests: bool = True) -> AsyncIterator[Edge]:
    settings = GatewaySettings(
        auth=False, allow_insecure=True, dedup_inflight=False, dedup_requests=dedup_requests
    )
    app = create_app(settings, supergraph=parse_supergraph(SUPERGRAPH.replace("{s}", subgraph.url)))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with aiohttp.ClientSession() as session:
            gateway = app[STATE].gateway
            assert gateway is not None
            yield Edge(f"http://127.0.0.1:{runner.addresses[0][1]}/graphql", gateway, session)
    finally:
        await runner.cleanup()


async def _together(
    subgraph: Counting,
    gw: Edge,
    calls: list[tuple[str, dict[str, str]]],
    executions: int,
) -> list[Any]:
    """Send every call at once; release the subgraph once ``executions`` reached it and every
    other caller joined one of them."""
    tasks = [asyncio.ensure_future(gw.post(query, headers)) for query, headers in calls]
    inflight = gw.gateway.inflight
    await until(lambda: subgraph.requests >= executions, what=f"{executions} executions")
    if inflight is not None:
        await until(
            lambda: inflight.shared >= len(calls) - executions, what="the other callers to join"
        )
    subgraph.release.set()
    return list(await asyncio.gather(*tasks))


def _user(token: str, language: str = "en") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept-Language": language}


async def test_identical_concurrent_queries_share_one_execution(subgraph: Counting) -> None:
    async with edge(subgraph) as gw:
        # The same operation, written differently (whitespace): the normalised document.
        calls = [("{ me(n: 1) }", _user("a"))] * 4 + [("{\n  me(n: 1)\n}", _user("a"))] * 4
        bodies = await _together(subgraph, gw, calls, executions=1)
        assert subgraph.requests == 1
        assert all(body == {"data": {"me": "Bearer a|en"}} for body in bodies)
        assert len(gw.gateway.inflight or ()) == 0  # nothing kept: not a cache
        # Afterwards the same query runs again.
        await gw.post("{ me(n: 1) }", _user("a"))
        assert subgraph.requests == 2


async def test_two_users_with_the_same_query_never_share(subgraph: Counting) -> None:
    async with edge(subgraph) as gw:
        calls = [("{ me(n: 1) }", _user("alice"))] * 3 + [("{ me(n: 1) }", _user("bob"))] * 3
        bodies = await _together(subgraph, gw, calls, executions=2)
        assert subgraph.requests == 2
        assert [b["data"]["me"] for b in bodies] == ["Bearer alice|en"] * 3 + ["Bearer bob|en"] * 3


async def test_other_forwarded_headers_or_variables_never_share(subgraph: Counting) -> None:
    async with edge(subgraph) as gw:
        calls = [
            ("{ me(n: 1) }", _user("a", "en")),
            ("{ me(n: 1) }", _user("a", "de")),
            ("{ me(n: 2) }", _user("a", "en")),
        ]
        bodies = await _together(subgraph, gw, calls, executions=3)
        assert subgraph.requests == 3
        assert [b["data"]["me"] for b in bodies] == ["Bearer a|en", "Bearer a|de", "Bearer a|en"]


async def test_mutations_are_never_shared(subgraph: Counting) -> None:
    async with edge(subgraph) as gw:
        calls = [("mutation { touch }", _user("a"))] * 3
        tasks = [asyncio.ensure_future(gw.post(q, h)) for q, h in calls]
        await until(lambda: subgraph.requests >= 3, what="every mutation to run")
        subgraph.release.set()
        bodies = await asyncio.gather(*tasks)
        assert subgraph.requests == 3
        assert gw.gateway.inflight is not None and gw.gateway.inflight.shared == 0
        assert all(body == {"data": {"touch": "Bearer a|en"}} for body in bodies)


async def test_off_by_setting(subgraph: Counting) -> None:
    async with edge(subgraph, dedup_requests=False) as gw:
        assert gw.gateway.inflight is None
        bodies = await _together(subgraph, gw, [("{ me(n: 1) }", _user("a"))] * 3, executions=3)
        assert subgraph.requests == 3
        assert all(body == {"data": {"me": "Bearer a|en"}} for body in bodies)


def test_on_by_default() -> None:
    assert GatewaySettings(auth=False, allow_insecure=True).dedup_requests is True


async def test_a_caller_that_goes_away_leaves_the_run_to_the_others() -> None:
    group: InflightGroup[str] = InflightGroup()
    release = asyncio.Event()
    runs: list[str] = []

    async def call() -> str:
        runs.append("started")
        await release.wait()
        runs.append("finished")
        return "answer"

    first = asyncio.ensure_future(group.run("k", call))
    second = asyncio.ensure_future(group.run("k", call))
    await until(lambda: group.shared == 1 and runs == ["started"], what="both callers")
    first.cancel()
    await until(first.done, what="the first caller to go")
    release.set()
    assert await second == ("answer", True)
    assert runs == ["started", "finished"]
    # Every caller gone: the run is cancelled.
    release.clear()
    runs.clear()
    only = asyncio.ensure_future(group.run("k", call))
    await until(lambda: runs == ["started"], what="the run to start")
    only.cancel()
    await until(lambda: len(group) == 0, what="the run to be cancelled")
    assert runs == ["started"]
