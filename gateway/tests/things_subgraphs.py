"""Two small strawberry subgraphs for the subscription tests, run as real processes.

``things`` owns ``Thing @key(id) { id name owner }``, ``Query.thing``, ``Mutation.changeThing``
and ``Subscription.thingChanged`` — the caller's own things only (``owner`` = the token's
``sub``): the gateway has to forward each subscriber's token. ``extras`` contributes
``Thing.label``, so the gateway must call its ``_entities`` for every event. Both run with
``crm_common.app.create_app`` (the subgraphs' real app: token checked on the WebSocket upgrade).
``Query.subscriptionStats`` / ``Query.entityCalls`` let tests see what the subgraph saw.

Run: ``python gateway/tests/things_subgraphs.py things|extras PORT`` with ``JWT_SECRET`` set.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from crm_common.app import create_app, serve
from crm_common.auth import TokenVerifier
from crm_common.graphql.context import RequestContext
from crm_common.settings import ServiceSettings

THINGS: dict[str, tuple[str, str]] = {
    "t1": ("first", "u1"),
    "t2": ("second", "u2"),
    "t3": ("third", "u1"),
}
LISTENERS: set[asyncio.Queue[Thing]] = set()
STATS = {"started": 0, "stopped": 0}
ENTITY_CALLS = [0]


@strawberry.federation.type(keys=["id"])
class Thing:
    id: strawberry.ID
    name: str
    owner: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Thing:
        return _thing(str(id))


def _thing(tid: str) -> Thing:
    name, owner = THINGS[tid]
    return Thing(id=strawberry.ID(tid), name=name, owner=owner)


@strawberry.type
class Stats:
    started: int
    stopped: int
    active: int


@strawberry.type
class ThingsQuery:
    @strawberry.field
    def thing(self, id: strawberry.ID) -> Thing | None:
        return _thing(str(id)) if str(id) in THINGS else None

    @strawberry.field
    def subscription_stats(self) -> Stats:
        return Stats(
            started=STATS["started"],
            stopped=STATS["stopped"],
            active=STATS["started"] - STATS["stopped"],
        )


@strawberry.type
class ThingsMutation:
    @strawberry.mutation
    def change_thing(self, id: strawberry.ID, name: str) -> Thing:
        _old, owner = THINGS[str(id)]
        THINGS[str(id)] = (name, owner)
        thing = _thing(str(id))
        for queue in list(LISTENERS):
            queue.put_nowait(thing)
        return thing


@strawberry.type
class ThingsSubscription:
    @strawberry.subscription
    async def thing_changed(
        self, info: Info[RequestContext[None], None]
    ) -> AsyncGenerator[Thing, None]:
        principal = info.context.require_principal()
        queue: asyncio.Queue[Thing] = asyncio.Queue()
        LISTENERS.add(queue)
        STATS["started"] += 1
        try:
            while True:
                thing = await queue.get()
                if thing.owner == principal.user_id:
                    yield thing
        finally:
            LISTENERS.discard(queue)
            STATS["stopped"] += 1


@strawberry.federation.type(keys=["id"], name="Thing")
class ThingExtras:
    id: strawberry.ID

    @strawberry.field
    def label(self) -> str:
        return f"label-{self.id}"

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ThingExtras:
        ENTITY_CALLS[0] += 1
        return cls(id=id)


@strawberry.type
class ExtrasQuery:
    @strawberry.field
    def entity_calls(self) -> int:
        return ENTITY_CALLS[0]


def schema(kind: str) -> strawberry.federation.Schema:
    if kind == "things":
        return strawberry.federation.Schema(
            query=ThingsQuery, mutation=ThingsMutation, subscription=ThingsSubscription
        )
    return strawberry.federation.Schema(query=ExtrasQuery, types=[ThingExtras])


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    settings = ServiceSettings(service_name=kind, port=port)
    app = create_app(
        settings,
        schema(kind),
        None,
        verifier=TokenVerifier(settings),
        tenant_settings=None,  # no tenant data: the default role matrix
        readiness={},
    )
    serve(app, settings)


if __name__ == "__main__":
    main()
