"""Three small real strawberry Federation-v2 subgraphs and a gateway in front of them.

customer owns ``Customer`` (name, tier); engagement adds ``Customer.interactions`` and owns
``Interaction``; quoting adds ``Customer.quoteTotal``/``quoteCount`` and ``discount``
(``@requires(fields: "tier")``) and owns ``Quote``. Every subgraph records the requests it
receives, so tests can count calls and representations.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import strawberry
from aiohttp import web
from graphql import GraphQLError
from strawberry.aiohttp.views import GraphQLView

from crm_common.auth import issue_dev_token
from crm_gateway.federation.execution.executor import Executor
from crm_gateway.http.app import STATE, create_app
from crm_gateway.settings import GatewaySettings

SECRET = "gateway-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

CUSTOMERS = {
    "c1": ("Ada Ltd", "GOLD"),
    "c2": ("Bob GmbH", "SILVER"),
    "c3": ("Cy SA", "GOLD"),
}
INTERACTIONS = [
    ("i1", "c1", "call"),
    ("i2", "c2", "mail"),
    ("i3", "c1", "visit"),
    ("i4", "c2", "call"),
]


# -- customer subgraph ------------------------------------------------------------------------


@strawberry.enum
class Tier(enum.Enum):
    GOLD = "GOLD"
    SILVER = "SILVER"


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID
    name: str
    tier: Tier

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        name, tier = CUSTOMERS[str(id)]
        return cls(id=id, name=name, tier=Tier(tier))


def _customer(cid: str) -> Customer:
    name, tier = CUSTOMERS[cid]
    return Customer(id=strawberry.ID(cid), name=name, tier=Tier(tier))


@strawberry.type
class CustomerQuery:
    @strawberry.field
    def customers(self) -> list[Customer]:
        return [_customer(cid) for cid in CUSTOMERS]

    @strawberry.field
    def customer(self, id: strawberry.ID) -> Customer | None:
        return _customer(str(id)) if str(id) in CUSTOMERS else None

    @strawberry.field
    def boom(self) -> str | None:
        raise GraphQLError("Customer not found", extensions={"code": "NOT_FOUND"})


@strawberry.type
class CustomerMutation:
    @strawberry.mutation
    def rename_customer(self, id: strawberry.ID, name: str) -> Customer:
        _old, tier = CUSTOMERS[str(id)]
        CUSTOMERS[str(id)] = (name, tier)
        return _customer(str(id))


customer_schema = strawberry.federation.Schema(query=CustomerQuery, mutation=CustomerMutation)


# -- engagement subgraph ----------------------------------------------------------------------


@strawberry.type
class Interaction:
    id: strawberry.ID
    note: str
    customer_id: strawberry.Private[str]

    @strawberry.field
    def customer(self) -> EngagementCustomer:
        return EngagementCustomer(id=strawberry.ID(self.customer_id))


@strawberry.federation.type(keys=["id"], name="Customer")
class EngagementCustomer:
    id: strawberry.ID

    @strawberry.field
    def interactions(self, first: int | None = None) -> list[Interaction]:
        found = [_interaction(i) for i in INTERACTIONS if i[1] == str(self.id)]
        return found[:first] if first is not None else found

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> EngagementCustomer:
        return cls(id=id)


def _interaction(row: tuple[str, str, str]) -> Interaction:
    return Interaction(id=strawberry.ID(row[0]), note=row[2], customer_id=row[1])


@strawberry.type
class EngagementQuery:
    @strawberry.field
    def interactions(self) -> list[Interaction]:
        return [_interaction(i) for i in INTERACTIONS]


engagement_schema = strawberry.federation.Schema(query=EngagementQuery, types=[EngagementCustomer])


# -- quoting subgraph -------------------------------------------------------------------------


@strawberry.federation.type(keys=["id"], name="Customer")
class QuotingCustomer:
    id: strawberry.ID
    tier: str | None = strawberry.federation.field(external=True, default=None)

    @strawberry.field
    def quote_total(self) -> int | None:
        return 100 * len(str(self.id))

    @strawberry.field
    def quote_count(self) -> int:
        return 2

    @strawberry.federation.field(requires=["tier"])  # type: ignore[untyped-decorator]
    def discount(self) -> int:
        return 15 if self.tier == "GOLD" else 5

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, tier: str | None = None) -> QuotingCustomer:
        return cls(id=id, tier=tier)


@strawberry.type
class Quote:
    id: strawberry.ID
    customer: QuotingCustomer


@strawberry.type
class QuotingQuery:
    @strawberry.field
    def quotes(self) -> list[Quote] | None:
        return [Quote(id=strawberry.ID("q1"), customer=QuotingCustomer(id=strawberry.ID("c3")))]


quoting_schema = strawberry.federation.Schema(query=QuotingQuery, types=[QuotingCustomer])


# -- running them -----------------------------------------------------------------------------


@dataclass
class Subgraph:
    name: str
    schema: Any
    runner: web.AppRunner | None = None
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def entity_calls(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "_entities" in r.get("query", "")]

    def operations(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "_service" not in r.get("query", "")]


def _recording_middleware(sub: Subgraph) -> Any:
    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = json.loads(await request.read())
        query = body.get("query", "")
        if "_service" not in query:
            if not request.headers.get("Authorization", "").startswith("Bearer "):
                return web.json_response(
                    {
                        "errors": [
                            {"message": "no token", "extensions": {"code": "UNAUTHENTICATED"}}
                        ]
                    },
                    status=401,
                )
            sub.requests.append({**body, "traceparent": request.headers.get("traceparent")})
        return await handler(request)

    return record


async def start_subgraph(sub: Subgraph, port: int = 0) -> None:
    app = web.Application(middlewares=[_recording_middleware(sub)])
    app.router.add_route("*", "/graphql", GraphQLView(schema=sub.schema))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sub.runner = runner
    actual = runner.addresses[0][1]
    sub.url = f"http://127.0.0.1:{actual}/graphql"


async def stop_subgraph(sub: Subgraph) -> None:
    if sub.runner is not None:
        await sub.runner.cleanup()
        sub.runner = None


@dataclass
class Stack:
    subgraphs: dict[str, Subgraph]
    gateway_url: str
    session: aiohttp.ClientSession
    app: web.Application
    token: str

    def reset(self) -> None:
        for sub in self.subgraphs.values():
            sub.requests.clear()

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = "default",
        operation_name: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation_name is not None:
            payload["operationName"] = operation_name
        async with self.session.post(self.gateway_url, json=payload, headers=headers) as resp:
            return resp.status, await resp.json()


def make_token() -> str:
    return issue_dev_token(SECRET, tenant="t1", roles=["admin"], user_id="u1")


async def start_gateway(
    subs: dict[str, Subgraph], **overrides: Any
) -> tuple[web.AppRunner, web.Application, str]:
    settings = GatewaySettings(
        subgraphs=",".join(f"{s.name}={s.url}" for s in subs.values()),
        jwt_secret=SECRET,
        sdl_wait_s=5,
        subgraph_timeout_s=2,
        **overrides,
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            async with session.get(url.replace("/graphql", "/readyz")) as resp:
                if resp.status == 200:
                    break
            await _sleep(0.025)
        else:
            raise RuntimeError(f"gateway never became ready: {app[STATE].failure}")
    return runner, app, url


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@pytest_asyncio.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    subs = {
        "customer": Subgraph("customer", customer_schema),
        "engagement": Subgraph("engagement", engagement_schema),
        "quoting": Subgraph("quoting", quoting_schema),
    }
    for sub in subs.values():
        await start_subgraph(sub)
    runner, app, url = await start_gateway(subs, max_depth=6, max_aliases=4)
    async with aiohttp.ClientSession() as session:
        yield Stack(subs, url, session, app, make_token())
    await runner.cleanup()
    for sub in subs.values():
        await stop_subgraph(sub)


@pytest.fixture
def fresh(stack: Stack) -> Stack:
    stack.reset()
    return stack


# Every test also checks that entity fetches collect their objects incrementally (below the
# objects their feeders' answers were merged into) exactly as a walk from the root would.
Executor.verify_targets = True
