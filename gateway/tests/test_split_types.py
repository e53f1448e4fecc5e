"""Value types split across subgraphs, @inaccessible required fields and narrower subgraph
field types: the planner re-enters another subgraph through the query root or the nearest
entity ancestor, repeating the path to the object."""

from __future__ import annotations

from typing import Any

from .federation_kit import TinySubgraph, gateway, serve

SHARED_ROOT = """
enum join__Graph { A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}") }
type Product @join__type(graph: A) @join__type(graph: B) {
  id: ID!
  name: String! @join__field(graph: A)
  price: Int! @join__field(graph: B)
}
type Query @join__type(graph: A) @join__type(graph: B) {
  products: [Product!]!
}
"""


async def test_shared_root_value_type_is_fetched_from_both_roots() -> None:
    subs = {
        "a": TinySubgraph(
            "type Product { id: ID! name: String! } type Query { products: [Product!]! }",
            {"products": [{"id": "1", "name": "Pen"}, {"id": "2", "name": "Ink"}]},
        ),
        "b": TinySubgraph(
            "type Product { id: ID! price: Int! } type Query { products: [Product!]! }",
            {"products": [{"id": "1", "price": 150}, {"id": "2", "price": 90}]},
        ),
    }
    async with serve(subs), gateway(SHARED_ROOT, subs) as post:
        body = await post("{ products { id name price } }")
    assert body == {
        "data": {
            "products": [
                {"id": "1", "name": "Pen", "price": 150},
                {"id": "2", "name": "Ink", "price": 90},
            ]
        }
    }
    assert subs["b"].queries == ["query Anonymous__b__0 { products { price } }"]


PARENT_ENTITY = """
enum join__Graph {
  A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}")
  C @join__graph(name: "c", url: "{c}")
}
type Book @join__type(graph: A, key: "id") @join__type(graph: B, key: "id")
  @join__type(graph: C, key: "id") {
  id: ID!
  shelf: Shelf @join__field(graph: B) @join__field(graph: C)
  secret: Int @inaccessible @join__field(graph: B) @join__field(graph: C, external: true)
  rank: Int @join__field(graph: C, requires: "secret")
}
type Shelf @join__type(graph: B) @join__type(graph: C) {
  label: String @join__field(graph: B)
  room: String @join__field(graph: C)
}
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  books: [Book!]! @join__field(graph: A)
}
"""


ENTITIES = "union _Entity = Book type Query { _entities(representations: [_Any!]!): [_Entity]! }"


def _book(rep: dict[str, Any], shelf: dict[str, Any]) -> dict[str, Any]:
    rank = rep["secret"] * 10 if "secret" in rep else None
    return {"__typename": "Book", "id": rep["id"], "shelf": shelf, "secret": 3, "rank": rank}


async def test_value_type_field_reenters_through_the_parent_entity() -> None:
    subs = {
        "a": TinySubgraph(
            "type Book { id: ID! } type Query { books: [Book!]! }",
            {"books": [{"__typename": "Book", "id": "b1"}]},
        ),
        "b": TinySubgraph(
            "type Book { id: ID! shelf: Shelf secret: Int } type Shelf { label: String }"
            + ENTITIES,
            {},
            lambda rep: _book(rep, {"label": "L1"}),
        ),
        "c": TinySubgraph(
            "type Book { id: ID! shelf: Shelf rank: Int } type Shelf { room: String }" + ENTITIES,
            {},
            lambda rep: _book(rep, {"room": "R9"}),
        ),
    }
    async with serve(subs), gateway(PARENT_ENTITY, subs) as post:
        body = await post("{ books { shelf { label room } } }")
        assert body == {"data": {"books": [{"shelf": {"label": "L1", "room": "R9"}}]}}
        # The @inaccessible `secret` is still fetched for the @requires of `rank`.
        body = await post("{ books { rank } }")
        assert body == {"data": {"books": [{"rank": 30}]}}


NARROWER = """
enum join__Graph { A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}") }
union Media @join__type(graph: A) @join__type(graph: B)
  @join__unionMember(graph: A, member: "Book") @join__unionMember(graph: B, member: "Book")
  @join__unionMember(graph: B, member: "Movie") = Book | Movie
type Book @join__type(graph: A) @join__type(graph: B) { title: String! }
type Movie @join__type(graph: B) { title: String! }
type Query @join__type(graph: A) @join__type(graph: B) {
  book: Media @join__field(graph: A, type: "Book")
}
"""


async def test_subgraph_field_of_a_narrower_type_gets_no_foreign_fragments() -> None:
    subs = {
        "a": TinySubgraph(
            "type Book { title: String! } type Query { book: Book }",
            {"book": {"title": "Dune"}},
        ),
        "b": TinySubgraph("type Book { title: String! } type Query { x: Int }", {}),
    }
    async with serve(subs), gateway(NARROWER, subs) as post:
        body = await post("{ book { __typename ... on Book { title } ... on Movie { title } } }")
    assert body == {"data": {"book": {"__typename": "Book", "title": "Dune"}}}
    assert "Movie" not in subs["a"].queries[0]
