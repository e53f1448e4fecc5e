"""Planner cases found by the federation conformance suite (requires with arguments, keys
only reachable through another subgraph), planned from a join-spec supergraph."""

from __future__ import annotations

from graphql import OperationDefinitionNode, parse

from crm_gateway.federation.planning.builder import Planner
from crm_gateway.federation.planning.plan import QueryPlan
from crm_gateway.federation.supergraph.file import parse_supergraph

from .test_planner import _documents

HEADER = """
schema @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable
  on FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
scalar join__FieldSet
enum join__Graph {
  A @join__graph(name: "a", url: "http://a") B @join__graph(name: "b", url: "http://b")
  C @join__graph(name: "c", url: "http://c")
}
"""

REQUIRES_WITH_ARGUMENTS = (
    HEADER
    + """
type Query @join__type(graph: A) @join__type(graph: B) {
  products: [Product] @join__field(graph: B)
}
type Product @join__type(graph: A, key: "upc") @join__type(graph: B, key: "upc") {
  upc: String!
  price(currency: String!): Int @join__field(graph: A, external: true) @join__field(graph: B)
  usd: Int @join__field(graph: A, requires: "price(currency: \\"USD\\")")
  eur: Int @join__field(graph: A, requires: "price(currency: \\"EUR\\")")
}
"""
)

KEY_FROM_ANOTHER_SUBGRAPH = (
    HEADER
    + """
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  books: [Book] @join__field(graph: A)
}
type Book @join__type(graph: A, key: "id") @join__type(graph: B, key: "id")
  @join__type(graph: B, key: "isbn") @join__type(graph: C, key: "isbn") {
  id: ID! @join__field(graph: A) @join__field(graph: B)
  isbn: String! @join__field(graph: B) @join__field(graph: C)
  title: String @join__field(graph: C)
}
"""
)


def _plan(supergraph: str, query: str) -> QueryPlan:
    document = parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return Planner(parse_supergraph(supergraph)).plan(operation, {}, {})


def test_requires_with_arguments_sends_them_and_splits_conflicting_values() -> None:
    docs = _documents(
        _plan(REQUIRES_WITH_ARGUMENTS, '{ products { usd eur price(currency: "GBP") } }')
    )
    root = docs[0][0]
    assert 'price(currency: "GBP")' in root
    assert 'price(currency: "USD")' in root and 'price(currency: "EUR")' in root
    # USD and EUR both travel as `price` in representations: two _entities fetches.
    assert docs[1][0].count("_entities") == 2


def test_key_only_known_to_another_subgraph_is_fetched_first() -> None:
    docs = _documents(_plan(KEY_FROM_ANOTHER_SUBGRAPH, "{ books { title } }"))
    assert docs[0] == ["query Anonymous__a__0 { books { __typename id } }"]
    assert "isbn" in docs[1][0] and docs[1][0].startswith("query Anonymous__b__1")
    assert "title" in docs[2][0] and docs[2][0].startswith("query Anonymous__c__2")
