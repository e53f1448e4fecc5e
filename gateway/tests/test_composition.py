"""Composition on SDL strings, as strawberry's ``_service { sdl }`` prints them."""

from __future__ import annotations

import pytest
from graphql import build_schema, print_schema

from crm_gateway.federation.supergraph.composition import CompositionError, compose
from crm_gateway.federation.supergraph.printer import print_supergraph

CUSTOMER = """
schema @link(url: "https://specs.apollo.dev/federation/v2.11",
             import: ["@inaccessible", "@key", "@shareable"]) { query: Query mutation: Mutation }

type Customer implements Node @key(fields: "id") { id: ID! number: String! name: String!
  secret: String @inaccessible  address: Address }
type Address @shareable { city: String! }
interface Node { id: ID! }
enum Tier { GOLD SILVER HIDDEN @inaccessible }
input CustomerFilter { name: String tier: Tier }
scalar DateTime
type Query {
  _entities(representations: [_Any!]!): [_Entity]!
  _service: _Service!
  customers(filter: CustomerFilter, first: Int): [Customer!]!
  node(id: ID!): Node
}
type Mutation { renameCustomer(id: ID!, name: String!): Customer! }
scalar _Any
union _Entity = Customer
type _Service { sdl: String! }
"""

ENGAGEMENT = """
schema @link(url: "https://specs.apollo.dev/federation/v2.11",
             import: [{name: "@key", as: "@primaryKey"}, "@shareable", "@external",
                      "@requires"]) { query: Query }

type Customer @primaryKey(fields: "id") { id: ID! name: String! @external
  greeting: String! @requires(fields: "name")
  interactions(first: Int, after: String): InteractionConnection! }
type Address @shareable { city: String! }
type InteractionConnection { totalCount: Int! }
type Product @federation__key(fields: "sku", resolvable: false) { sku: String! }
enum Tier { GOLD PLATINUM }
input CustomerFilter { name: String }
type Query { _service: _Service! lastActivity: DateTime }
scalar DateTime
type _Service { sdl: String! }
"""


def _compose() -> object:
    return compose(
        {
            "customer": ("http://c/graphql", CUSTOMER),
            "engagement": ("http://e/graphql", ENGAGEMENT),
        }
    )


def test_owners_keys_and_federation_directives() -> None:
    sg = compose(
        {"customer": ("http://c/graphql", CUSTOMER), "engagement": ("http://e/graphql", ENGAGEMENT)}
    )
    assert sg.field_graphs("Query", "customers") == ("customer",)
    assert sg.field_graphs("Query", "lastActivity") == ("engagement",)
    assert sg.field_graphs("Customer", "name") == ("customer",)  # external in engagement
    assert sg.field_graphs("Customer", "id") == ("customer", "engagement")
    assert sg.field_graphs("Customer", "interactions") == ("engagement",)
    assert sg.field_graphs("Address", "city") == ("customer", "engagement")
    assert [k.fields for k in sg.resolvable_keys("Customer", "engagement")] == ["id"]
    assert sg.resolvable_keys("Product", "engagement") == []
    assert sg.types["Product"].joins["engagement"].keys[0].resolvable is False
    join = sg.field_join("Customer", "greeting", "engagement")
    assert join is not None and join.requires == "name"
    assert sg.root_types == {"query": "Query", "mutation": "Mutation"}
    assert sg.possible_types("customer", "Node") == ["Customer"]
    assert sg.possible_types("engagement", "Node") == []


def test_api_schema_hides_internals_and_inaccessible() -> None:
    sg = compose(
        {"customer": ("http://c/graphql", CUSTOMER), "engagement": ("http://e/graphql", ENGAGEMENT)}
    )
    schema = sg.api_schema
    for internal in ("_Any", "_Entity", "_Service", "link__Import", "join__Graph"):
        assert internal not in schema.type_map
    assert schema.query_type is not None
    assert "_entities" not in schema.query_type.fields
    assert "_service" not in schema.query_type.fields
    customer = schema.type_map["Customer"]
    assert "secret" not in customer.fields  # type: ignore[attr-defined]
    assert set(customer.fields) >= {"id", "number", "name", "greeting", "interactions"}  # type: ignore[attr-defined]
    assert set(schema.type_map["Tier"].values) == {"GOLD", "SILVER", "PLATINUM"}  # type: ignore[attr-defined]
    assert set(schema.type_map["CustomerFilter"].fields) == {"name"}  # type: ignore[attr-defined]
    sdl = print_schema(schema)
    assert "@key" not in sdl and "@external" not in sdl


def test_printed_supergraph_is_valid_join_spec_sdl() -> None:
    sg = compose(
        {"customer": ("http://c/graphql", CUSTOMER), "engagement": ("http://e/graphql", ENGAGEMENT)}
    )
    text = print_supergraph(sg)
    assert 'CUSTOMER @join__graph(name: "customer", url: "http://c/graphql")' in text
    assert '@join__type(graph: ENGAGEMENT, key: "sku", resolvable: false)' in text
    assert '@join__field(graph: ENGAGEMENT, requires: "name")' in text
    assert "@join__field(graph: ENGAGEMENT, external: true)" in text
    build_schema(text)  # parses and builds with the directive definitions it declares


def test_incompatible_types_are_rejected() -> None:
    other = 'type Query { x: Int } type Customer @key(fields: "id") { id: ID! name: Int }'
    with pytest.raises(CompositionError):
        compose({"customer": ("http://c", CUSTOMER), "bad": ("http://b", other)})


def test_nullability_differences_take_the_nullable_output_type() -> None:
    a = "type Query { a: String } type T @shareable { f: String! }"
    b = "type Query { b: String } type T @shareable { f: String }"
    sg = compose({"a": ("http://a", a), "b": ("http://b", b)})
    assert sg.types["T"].fields["f"].type == "String"


async def test_load_sdls_waits_for_a_late_subgraph() -> None:
    """A subgraph that starts after the gateway is picked up by the retry loop."""
    import asyncio

    import aiohttp
    from aiohttp import web

    from crm_gateway.federation.supergraph.composition import load_sdls

    async def sdl(_request: web.Request) -> web.Response:
        return web.json_response({"data": {"_service": {"sdl": "type Query { a: Int }"}}})

    app = web.Application()
    app.router.add_post("/graphql", sdl)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await runner.cleanup()  # free the port, start again a little later on the same one

    async def start_late() -> None:
        await asyncio.sleep(0.3)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    starter = asyncio.create_task(start_late())
    try:
        async with aiohttp.ClientSession() as session:
            sdls = await load_sdls(
                session, {"a": f"http://127.0.0.1:{port}/graphql"}, wait_s=5, initial_delay_s=0.05
            )
        assert sdls["a"][1] == "type Query { a: Int }"
        with pytest.raises(CompositionError):
            async with aiohttp.ClientSession() as session:
                await load_sdls(session, {"b": "http://127.0.0.1:1/graphql"}, wait_s=0.2)
    finally:
        await starter
        await runner.cleanup()
