"""Planner unit tests: the subgraph documents produced for client operations."""

from __future__ import annotations

from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from crm_gateway.federation.planning.builder import Planner
from crm_gateway.federation.planning.plan import QueryPlan
from crm_gateway.federation.supergraph.composition import compose

CUSTOMER = """
type Query { customers: [Customer!]! search(text: String!): [SearchResult!]! node(id: ID!): Node }
interface Node { id: ID! }
type Customer implements Node @key(fields: "id") { id: ID! name: String! }
type Contact implements Node @key(fields: "id") { id: ID! email: String! }
union SearchResult = Customer | Contact
"""
ENGAGEMENT = """
type Query { interactions: [Interaction!]! }
type Interaction { id: ID! customer: Customer! }
type Customer @key(fields: "id") { id: ID! interactions: [Interaction!]! score: Int }
type Contact @key(fields: "id") { id: ID! lastSeen: String }
"""


def _plan(query: str, variables: dict[str, Any] | None = None) -> QueryPlan:
    sg = compose({"customer": ("http://c", CUSTOMER), "engagement": ("http://e", ENGAGEMENT)})
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return Planner(sg).plan(operation, fragments, variables or {})


def _documents(plan: QueryPlan) -> list[list[str]]:
    out = []
    for phase in plan.phases:
        for stage in phase.stages:
            by_graph: dict[str, list[Any]] = {}
            for fetch in stage:
                by_graph.setdefault(fetch.subgraph, []).append(fetch)
            out.append([plan.document(phase.operation, fetches) for fetches in by_graph.values()])
    return out


def test_root_fields_grouped_per_subgraph() -> None:
    plan = _plan("{ customers { id } interactions { id } other: customers { name } }")
    assert _documents(plan) == [
        [
            "query Anonymous__customer__0 { customers { id } other: customers { name } }",
            "query Anonymous__engagement__0 { interactions { id } }",
        ]
    ]


def test_entity_jump_adds_typename_and_key() -> None:
    plan = _plan("query Q { customers { name score } }")
    docs = _documents(plan)
    assert docs[0] == ["query Q__customer__0 { customers { name __typename id } }"]
    assert docs[1] == [
        "query Q__engagement__1($_gw_r1: [_Any!]!) "
        "{ e1: _entities(representations: $_gw_r1) { ... on Customer { score } } }"
    ]


def test_abstract_types_expand_per_concrete_type_and_jump_per_type() -> None:
    plan = _plan('{ search(text: "a") { ... on Customer { name score } ... on Node { id } } }')
    docs = _documents(plan)
    assert docs[0] == [
        'query Anonymous__customer__0 { search(text: "a") { __typename '
        "... on Customer { name __typename id } ... on Contact { id } } }"
    ]
    assert "... on Customer { score }" in docs[1][0]
    assert "Contact" not in docs[1][0]


def test_client_alias_clash_with_key_field_uses_internal_alias() -> None:
    plan = _plan("{ customers { id: name score } }")
    docs = _documents(plan)
    assert docs[0] == [
        "query Anonymous__customer__0 { customers { id: name __typename _gw_id: id } }"
    ]
    fetch = plan.phases[0].stages[1][0]
    rep = fetch.entities["Customer"].rep
    assert [(r.name, r.key) for r in rep] == [("__typename", "__typename"), ("id", "_gw_id")]


def test_skip_include_are_evaluated_at_plan_time() -> None:
    query = "query ($s: Boolean!) { customers { name score @skip(if: $s) } }"
    assert len(_documents(_plan(query, {"s": True}))) == 1
    assert len(_documents(_plan(query, {"s": False}))) == 2


def test_same_subgraph_at_same_level_shares_one_entity_fetch() -> None:
    plan = _plan("{ interactions { customer { name } } customers { interactions { id } } }")
    docs = _documents(plan)
    assert len(docs) == 2
    stage1 = docs[1]
    assert len(stage1) == 2  # one request per subgraph; each holds one _entities field
    assert sum(d.count("_entities") for d in stage1) == 2


def test_subscription_root_from_its_subgraph_then_entities() -> None:
    """A subscription: the owning subgraph streams the root field (keys added), the later
    stages are ordinary `_entities` queries run per event."""
    events = ENGAGEMENT + "type Subscription { customerChanged: Customer! }\n"
    sg = compose({"customer": ("http://c", CUSTOMER), "engagement": ("http://e", events)})
    assert sg.root_types["subscription"] == "Subscription"
    assert sg.api_schema.subscription_type is not None
    operation = parse("subscription S { customerChanged { score name } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    plan = Planner(sg).plan(operation, {}, {})
    phase = plan.phases[0]
    assert phase.operation == "subscription"
    root, entities = phase.stages
    assert plan.document("subscription", root) == (
        "subscription S__engagement__0 { customerChanged { score __typename id } }"
    )
    assert entities[0].subgraph == "customer"
    assert "_entities" in plan.document("query", entities)
