"""The compiled response shaper must answer exactly what graphql-core's shaping answers.

Each case runs one operation over one raw tree (as the executor merges it) through both
`compile_shaper` and `executor.shape_response`; where the fast path gives up (`Fallback`, or
no shaper for abstract types / introspection) the gateway uses graphql-core, so that is what
is checked there.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    build_schema,
    parse,
)

from crm_gateway.federation.execution.executor import ExecutionState, FieldFailure
from crm_gateway.federation.planning.plan import type_alias
from crm_gateway.federation.shaping.compiled import Fallback, compile_shaper
from crm_gateway.federation.shaping.fallback import shape_response

SCHEMA = build_schema(
    """
    scalar DateTime
    enum Status { OPEN CLOSED }
    interface Node { id: ID! }
    type Query {
      products: [Product!]!
      product(id: ID!): Product
      maybe: [Product]
      node(id: ID!): Node
    }
    type Mutation { close(id: ID!): Product! }
    type Product implements Node {
      id: ID!
      name: String
      price: Int!
      weight: Float
      inStock: Boolean!
      status: Status
      createdAt: DateTime
      reviews: [Review!]
      tags: [[String!]]
    }
    type Review implements Node { id: ID! body: String! author: User }
    type User { id: ID! name: String! }
    """
)


def _operation(document: DocumentNode) -> tuple[OperationDefinitionNode, dict[str, Any]]:
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return operation, fragments


def _both(query: str, data: dict[str, Any], variables: dict[str, Any] | None = None) -> Any:
    """The fast answer, asserted equal to graphql-core's; None when the fast path gave up."""
    variables = variables or {}
    document = parse(query)
    operation, fragments = _operation(document)
    expected = shape_response(SCHEMA, document, None, variables, ExecutionState(data=data))
    shaper = compile_shaper(SCHEMA, operation, fragments, variables)
    assert shaper is not None
    try:
        fast = {"data": shaper(data)}
    except Fallback:
        assert "errors" in expected, "the fast path gave up on a response without errors"
        return None
    assert fast == expected
    assert list(_keys(fast)) == list(_keys(expected))  # same field order everywhere
    return fast["data"]


def _keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def _product(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "__typename": "Product",
        "id": str(n),
        "name": f"p{n}",
        "price": n * 100,
        "weight": 1.5,
        "inStock": True,
        "status": "OPEN",
        "createdAt": "2026-11-23T10:00:00.000Z",
        "reviews": [{"id": f"{n}-0", "body": "ok", "author": {"id": "7", "name": "Ann"}}],
        "tags": [["a", "b"], None],
        **extra,
    }


def test_deep_selection_order_aliases_and_typename() -> None:
    query = """
    query Q {
      products { price id label: name __typename reviews { body author { name id } } }
      __typename
    }"""
    # The raw tree is keyed by response key: subgraphs are sent the client's aliases.
    data = _both(query, {"products": [_product(1, label="p1"), _product(2, label="p2")]})
    assert data["products"][0] == {
        "price": 100,
        "id": "1",
        "label": "p1",
        "__typename": "Product",
        "reviews": [{"body": "ok", "author": {"name": "Ann", "id": "7"}}],
    }
    assert data["__typename"] == "Query"


def test_fragments_duplicate_fields_and_nested_lists_merge_like_graphql_core() -> None:
    query = """
    query Q {
      products {
        reviews { id }
        ...F
        ... on Product { reviews { author { id } } inStock }
        ... on Node { id }
      }
    }
    fragment F on Product { weight status createdAt tags reviews { body } }
    """
    _both(query, {"products": [_product(1), _product(3, tags=None, status=None)]})


def test_skip_and_include_follow_the_variables() -> None:
    query = """
    query Q($a: Boolean!, $b: Boolean!) {
      products { id name @skip(if: $a) price @include(if: $b) ... @include(if: $b) { weight } }
    }"""
    for a in (True, False):
        for b in (True, False):
            _both(query, {"products": [_product(1)]}, {"a": a, "b": b})


def test_nullable_nulls_and_missing_fields_stay_null() -> None:
    data = _both(
        "{ maybe { id name } product(id: 1) { id } }",
        {"maybe": [None, {"id": "2", "name": None}]},
    )
    assert data == {"maybe": [None, {"id": "2", "name": None}], "product": None}


def test_scalar_coercions_match_graphql_core() -> None:
    # An Int ID becomes a string, an int Float a float: exactly graphql-core's serialize.
    data = _both("{ products { id weight status } }", {"products": [_product(1, id=5, weight=2)]})
    assert data == {"products": [{"id": "5", "weight": 2.0, "status": "OPEN"}]}


def test_per_type_aliased_keys_are_read_back() -> None:
    raw = {"products": [{"id": "1", type_alias("Product", "name"): "aliased"}]}
    assert _both("{ products { id name } }", raw) == {"products": [{"id": "1", "name": "aliased"}]}


@pytest.mark.parametrize(
    "product",
    [
        {"id": "1", "price": None, "inStock": True},  # null in a non-null field
        {"id": "1", "price": 2**40, "inStock": True},  # Int out of range
        {"id": "1", "price": 1, "inStock": True, "status": "NOPE"},  # unknown enum value
        {"id": "1", "price": 1, "inStock": FieldFailure("boom", "SUBGRAPH_UNAVAILABLE")},
        {"id": "1", "price": 1, "inStock": True, "createdAt": FieldFailure("x", "Y")},
        {"id": "1", "price": 1, "inStock": True, "reviews": {"not": "a list"}},
    ],
)
def test_anything_unexpected_falls_back_to_graphql_core(product: dict[str, Any]) -> None:
    assert (
        _both(
            "{ products { id price inStock status createdAt reviews { id } } }",
            {"products": [product]},
        )
        is None
    )


def test_mutations_are_shaped_too() -> None:
    data = _both("mutation { close(id: 1) { id status } }", {"close": _product(4)})
    assert data == {"close": {"id": "4", "status": "OPEN"}}


@pytest.mark.parametrize(
    "query",
    [
        "{ node(id: 1) { id } }",  # abstract type: graphql-core resolves the type
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Product") { name } }',
    ],
)
def test_abstract_types_and_introspection_are_left_to_graphql_core(query: str) -> None:
    operation, fragments = _operation(parse(query))
    assert compile_shaper(SCHEMA, operation, fragments, {}) is None
