"""Tiny hand-written federation subgraphs and a gateway in front of them, for planner cases.

A `TinySubgraph` is a graphql-core schema from SDL (federation types written out: ``_Any``,
``_Entity``, ``_entities``) over plain dicts: root fields are values or callables of the root
dict, ``_entities`` calls a Python function per representation, and abstract types resolve by
the dicts' ``__typename``. The gateway reads a join-spec supergraph whose graph URLs are
filled in from the running subgraphs (``{a}``, ``{b}``, ... placeholders).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from graphql import build_schema, graphql_sync

from crm_gateway.federation.supergraph.file import parse_supergraph
from crm_gateway.http.app import create_app
from crm_gateway.settings import GatewaySettings

JOIN_HEADER = """
schema @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY) { query: Query }
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable
  on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable
  on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__implements(graph: join__Graph!, interface: String!) repeatable
  on OBJECT | INTERFACE
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ENUM | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import])
  repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
"""

FEDERATION_SDL = "scalar _Any\n"

Resolver = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass
class TinySubgraph:
    """One subgraph: its SDL (with ``_entities`` if it has entities), data and entity resolver."""

    sdl: str
    root: dict[str, Any]
    resolve_entity: Resolver | None = None
    queries: list[str] = field(default_factory=list)
    url: str = ""

    def answer(self, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        self.queries.append(query)
        root = dict(self.root)
        resolve = self.resolve_entity
        if resolve is not None:
            root["_entities"] = lambda _info, representations: [resolve(r) for r in representations]
        result = graphql_sync(
            build_schema(FEDERATION_SDL + self.sdl), query, root, variable_values=variables
        )
        return dict(result.formatted)


@asynccontextmanager
async def serve(subgraphs: dict[str, TinySubgraph]) -> AsyncIterator[None]:
    """Run the subgraphs on free loopback ports."""
    runners: list[web.AppRunner] = []
    try:
        for sub in subgraphs.values():
            app = web.Application()

            async def handle(request: web.Request, sub: TinySubgraph = sub) -> web.Response:
                body = await request.json()
                return web.json_response(sub.answer(body["query"], body.get("variables")))

            app.router.add_post("/graphql", handle)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            sub.url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
        yield
    finally:
        for runner in runners:
            await runner.cleanup()


@asynccontextmanager
async def gateway(
    supergraph: str, subgraphs: dict[str, TinySubgraph]
) -> AsyncIterator[Callable[[str], Any]]:
    """The gateway (auth off) over the running subgraphs; yields ``post(query) -> body``."""
    sdl = JOIN_HEADER + supergraph
    for name, sub in subgraphs.items():
        sdl = sdl.replace("{" + name + "}", sub.url)
    settings = GatewaySettings(auth=False, allow_insecure=True)
    app = create_app(settings, supergraph=parse_supergraph(sdl))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    try:
        async with aiohttp.ClientSession() as session:

            async def post(query: str) -> Any:
                async with session.post(url, json={"query": query}) as resp:
                    return await resp.json()

            yield post
    finally:
        await runner.cleanup()
