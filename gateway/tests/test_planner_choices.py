"""Planner choices checked through the gateway against tiny subgraphs: the shared root field
served where @provides saves fetches, @requires with type conditions (also on a type hidden
by @inaccessible), and fields typed differently in sibling fragments of one subgraph."""

from __future__ import annotations

from typing import Any

from .federation_kit import TinySubgraph, gateway, serve

PROVIDES = """
enum join__Graph {
  A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}")
  C @join__graph(name: "c", url: "{c}")
}
type Media @join__type(graph: A) @join__type(graph: B) { id: ID! pet: Pet }
type Pet @join__type(graph: A, key: "id") @join__type(graph: B, key: "id")
  @join__type(graph: C, key: "id") {
  id: ID!
  name: String @join__field(graph: B, external: true) @join__field(graph: C)
}
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  media: Media @join__field(graph: A) @join__field(graph: B, provides: "pet { name }")
}
"""

PET_ENTITIES = "union _Entity = Pet type Query { _entities(representations: [_Any!]!): [_Entity]! "


async def test_shared_root_field_goes_where_provides_saves_fetches() -> None:
    media = {"id": "m1", "pet": {"__typename": "Pet", "id": "p1", "name": "Rex"}}
    subs = {
        "a": TinySubgraph(
            "type Media { id: ID! pet: Pet } type Pet { id: ID! } "
            + PET_ENTITIES
            + "media: Media }",
            {"media": media},
            lambda rep: {"__typename": "Pet", "id": rep["id"]},
        ),
        "b": TinySubgraph(
            "type Media { id: ID! pet: Pet } type Pet { id: ID! name: String } "
            + PET_ENTITIES
            + "media: Media }",
            {"media": media},
            lambda rep: {"__typename": "Pet", "id": rep["id"]},
        ),
        "c": TinySubgraph(
            "type Pet { id: ID! name: String } " + PET_ENTITIES + "}",
            {},
            lambda rep: {"__typename": "Pet", "id": rep["id"], "name": "Rex"},
        ),
    }
    async with serve(subs), gateway(PROVIDES, subs) as post:
        body = await post("{ media { id pet { name } } }")
    assert body == {"data": {"media": {"id": "m1", "pet": {"name": "Rex"}}}}
    assert len(subs["b"].queries) == 1
    assert subs["a"].queries == [] and subs["c"].queries == []


REQUIRES_FRAGMENTS = """
enum join__Graph { A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}") }
interface Shape @join__type(graph: A) { id: ID! }
type Square implements Shape @join__implements(graph: A, interface: "Shape")
  @join__type(graph: A) { id: ID! side: Int! }
type Circle implements Shape @join__implements(graph: A, interface: "Shape")
  @join__type(graph: A) @inaccessible { id: ID! radius: Int! }
type Item @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  shape: Shape @join__field(graph: A)
  size: Int @join__field(graph: B,
    requires: "shape { ... on Square { side } ... on Circle { radius } }")
}
type Query @join__type(graph: A) @join__type(graph: B) { items: [Item!]! @join__field(graph: B) }
"""

SHAPES = {
    "i1": {"__typename": "Square", "id": "s", "side": 3},
    "i2": {"__typename": "Circle", "id": "c", "radius": 2},
}


def _size(rep: dict[str, Any]) -> dict[str, Any]:
    shape = rep["shape"]
    size = shape["side"] ** 2 if shape["__typename"] == "Square" else 3 * shape["radius"] ** 2
    return {"__typename": "Item", "id": rep["id"], "size": size}


async def test_requires_with_type_conditions_including_a_hidden_type() -> None:
    subs = {
        "a": TinySubgraph(
            "interface Shape { id: ID! } type Square implements Shape { id: ID! side: Int! } "
            "type Circle implements Shape { id: ID! radius: Int! } type Item { id: ID! "
            "shape: Shape } union _Entity = Item "
            "type Query { _entities(representations: [_Any!]!): [_Entity]! }",
            {},
            lambda rep: {"__typename": "Item", "id": rep["id"], "shape": SHAPES[rep["id"]]},
        ),
        "b": TinySubgraph(
            "type Item { id: ID! size: Int } union _Entity = Item "
            "type Query { items: [Item!]! _entities(representations: [_Any!]!): [_Entity]! }",
            {"items": [{"__typename": "Item", "id": i} for i in SHAPES]},
            _size,
        ),
    }
    async with serve(subs), gateway(REQUIRES_FRAGMENTS, subs) as post:
        body = await post("{ items { id size } }")
    assert body == {"data": {"items": [{"id": "i1", "size": 9}, {"id": "i2", "size": 12}]}}


CONFLICTING_TYPES = """
enum join__Graph { A @join__graph(name: "a", url: "{a}") }
union Shape @join__type(graph: A) @join__unionMember(graph: A, member: "Square")
  @join__unionMember(graph: A, member: "Circle") = Square | Circle
type Square @join__type(graph: A) { size: Int @join__field(graph: A, type: "Int!") }
type Circle @join__type(graph: A) { size: Int }
type Query @join__type(graph: A) { shapes: [Shape!]! }
"""


async def test_same_key_with_other_subgraph_types_in_sibling_fragments_is_aliased() -> None:
    subs = {
        "a": TinySubgraph(
            "type Square { size: Int! } type Circle { size: Int } union Shape = Square | Circle "
            "type Query { shapes: [Shape!]! }",
            {
                "shapes": [
                    {"__typename": "Square", "size": 4},
                    {"__typename": "Circle", "size": None},
                ]
            },
        ),
    }
    async with serve(subs), gateway(CONFLICTING_TYPES, subs) as post:
        body = await post("{ shapes { ... on Square { size } ... on Circle { size } } }")
    # Without the alias the subgraph rejects `size` as Int! and Int in one selection.
    assert body == {"data": {"shapes": [{"size": 4}, {"size": None}]}}


EXTERNAL_KEYS = """
enum join__Graph { A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}") }
interface Node @join__type(graph: A) @join__type(graph: B) { id: ID! }
type Account implements Node @join__implements(graph: A, interface: "Node")
  @join__implements(graph: B, interface: "Node")
  @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID! @join__field(graph: A) @join__field(graph: B, external: true)
}
type Chat implements Node @join__implements(graph: A, interface: "Node")
  @join__implements(graph: B, interface: "Node")
  @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID! @join__field(graph: A, external: true) @join__field(graph: B)
}
type Query @join__type(graph: A) @join__type(graph: B) { node(id: ID!): Node }
"""


async def test_external_key_fields_are_not_read_from_the_subgraph_declaring_them_external() -> None:
    sdl = (
        "interface Node { id: ID! } type Account implements Node { id: ID! } "
        "type Chat implements Node { id: ID! } type Query { node(id: ID!): Node }"
    )
    # Each subgraph answers the id it only declares @external with garbage.
    subs = {
        "a": TinySubgraph(sdl, {"node": {"__typename": "Chat", "id": "never"}}),
        "b": TinySubgraph(sdl, {"node": {"__typename": "Chat", "id": "c1"}}),
    }
    async with serve(subs), gateway(EXTERNAL_KEYS, subs) as post:
        body = await post('{ node(id: "c1") { id } }')
    # No subgraph can serve Node.id for both implementations: planning fails, nothing is
    # fetched, rather than answering "never".
    assert body.get("data") is None and body["errors"]
    assert subs["a"].queries == [] and subs["b"].queries == []
