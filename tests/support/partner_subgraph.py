"""A partner's subgraph for the e2e suite: extends ``Customer`` with two fields of its own.

It stands for a partner who runs their own service next to the suite and adds it to the
gateway by configuration only (``GATEWAY_SUBGRAPHS``: one more ``name=url`` pair); see
tests/e2e/test_partner_subgraph.py. Federation 2 (strawberry), served with aiohttp.

Usage: ``python tests/support/partner_subgraph.py <port>``
"""

from __future__ import annotations

import asyncio
import hashlib
import sys

import strawberry
from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.types import Info

TIERS = ("bronze", "silver", "gold")


def tier_of(customer_id: str) -> str:
    """The partner's loyalty tier of a customer (a stable function of its id)."""
    return TIERS[hashlib.sha256(customer_id.encode()).digest()[0] % len(TIERS)]


@strawberry.federation.type(keys=["id"], description="A customer, as the partner sees it.")
class Customer:
    id: strawberry.ID = strawberry.federation.field(description="The suite's customer id.")

    @strawberry.field(description="The customer's tier in the partner's loyalty programme.")
    def partner_tier(self) -> str:
        return tier_of(str(self.id))

    @strawberry.field(description="Whether the caller's Authorization header reached the partner.")
    def partner_saw_caller(self, info: Info) -> bool:
        return bool(info.context["request"].headers.get("Authorization"))

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        return cls(id=id)


@strawberry.type(description="The partner's own root fields.")
class Query:
    @strawberry.field(description="The partner programme's name.")
    def partner_programme(self) -> str:
        return "Partner Loyalty"


schema = strawberry.federation.Schema(query=Query, types=[Customer])


async def serve(port: int) -> None:
    app = web.Application()
    app.router.add_route("*", "/graphql", GraphQLView(schema=schema))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"partner subgraph on http://127.0.0.1:{port}/graphql", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
