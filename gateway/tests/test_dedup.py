"""In-flight deduplication of identical query fetches, over real HTTP.

The subgraph holds every request until the test releases it, so all callers are in flight
together; it counts the requests that reached it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest_asyncio
from aiohttp import web

from crm_gateway.federation.execution.client import SubgraphClient


@dataclass
class Held:
    url: str = ""
    requests: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest_asyncio.fixture
async def held() -> AsyncIterator[Held]:
    server = Held()

    async def handler(_request: web.Request) -> web.StreamResponse:
        server.requests += 1
        server.arrived.set()
        await server.release.wait()
        return web.json_response({"data": {"items": [{"id": 1}]}})

    app = web.Application()
    app.router.add_post("/graphql", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    yield server
    await runner.cleanup()


async def _concurrently(
    held: Held, client: SubgraphClient, calls: list[tuple[str | None, bool]]
) -> list[dict[str, object]]:
    tasks = [
        asyncio.ensure_future(
            client.request("s", held.url, "{ items { id } }", {}, auth, retry=is_query)
        )
        for auth, is_query in calls
    ]
    await held.arrived.wait()  # all callers joined or started before the first one arrives
    held.release.set()
    return list(await asyncio.gather(*tasks))


async def test_identical_queries_in_flight_share_one_request(held: Held) -> None:
    async with aiohttp.ClientSession() as session:
        client = SubgraphClient(session, 5, dedup_inflight=True)
        bodies = await _concurrently(held, client, [("Bearer a", True)] * 5)
        assert held.requests == 1
        assert all(body == {"data": {"items": [{"id": 1}]}} for body in bodies)
        # Every caller got its own copy: the executor merges into it.
        assert len({id(body) for body in bodies}) == 5
        # Nothing is kept afterwards: a later identical query is fetched again.
        await client.request("s", held.url, "{ items { id } }", {}, "Bearer a", retry=True)
        assert held.requests == 2


async def test_other_callers_and_mutations_are_never_shared(held: Held) -> None:
    async with aiohttp.ClientSession() as session:
        client = SubgraphClient(session, 5, dedup_inflight=True)
        calls = [("Bearer a", True), ("Bearer b", True), ("Bearer a", False), ("Bearer a", False)]
        await _concurrently(held, client, calls)
        # a's query, b's query (another identity), and each of the two mutations
        assert held.requests == 4


async def test_off_by_setting(held: Held) -> None:
    async with aiohttp.ClientSession() as session:
        client = SubgraphClient(session, 5, dedup_inflight=False)
        await _concurrently(held, client, [("Bearer a", True)] * 3)
        assert held.requests == 3
