"""Every type and field of the API reference should carry a description (issue 11).

Each subgraph's schema is built in-process (no servers) and walked with graphql-core: object
types, input types, enums and their fields/input fields. Federation plumbing (`_service`,
`_entities`, `_Service`, `link__*`, ...) and introspection are not ours and are skipped.
Nothing may be missing: describe every type and field you add (one specific sentence for a
frontend developer: units, formats, who may see it, what null means).
"""

from __future__ import annotations

import importlib

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

SUBGRAPHS = ["customer", "engagement", "quoting", "service_desk", "insights"]


def _is_federation_plumbing(name: str) -> bool:
    return name.startswith(("_", "link__", "federation__")) or name in {"FieldSet", "Policy"}


def undocumented(schema: GraphQLSchema) -> list[str]:
    """`Type` and `Type.field` names that have no (or a blank) description."""
    missing: list[str] = []
    for name, graphql_type in sorted(schema.type_map.items()):
        if _is_federation_plumbing(name):
            continue
        if not isinstance(
            graphql_type,
            GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType | GraphQLEnumType,
        ):
            continue  # scalars and unions
        root = graphql_type in (schema.query_type, schema.mutation_type)
        if not root and not (graphql_type.description or "").strip():
            missing.append(name)
        if isinstance(graphql_type, GraphQLEnumType):
            continue  # enum values are self-explanatory names; the enum itself is described
        for field_name, graphql_field in graphql_type.fields.items():
            if _is_federation_plumbing(field_name):
                continue
            if not (graphql_field.description or "").strip():
                missing.append(f"{name}.{field_name}")
    return missing


def _subgraph_schema(subgraph: str) -> GraphQLSchema:
    module = importlib.import_module(f"crm_{subgraph}.api.schema")
    built: GraphQLSchema = module.schema()._schema
    return built


@pytest.fixture(scope="module")
def missing_by_subgraph() -> dict[str, list[str]]:
    return {subgraph: undocumented(_subgraph_schema(subgraph)) for subgraph in SUBGRAPHS}


def test_every_type_and_field_is_documented(
    missing_by_subgraph: dict[str, list[str]],
) -> None:
    undocumented_somewhere = {
        subgraph: missing for subgraph, missing in missing_by_subgraph.items() if missing
    }
    report = "\n".join(
        f"{subgraph} ({len(missing)}): {', '.join(missing)}"
        for subgraph, missing in undocumented_somewhere.items()
    )
    assert not undocumented_somewhere, f"types or fields without a description:\n{report}"


def test_the_walk_finds_what_is_missing() -> None:
    schema = _subgraph_schema("customer")
    assert "Query.customer" not in undocumented(schema)
    documented_type = schema.type_map["Customer"]
    assert isinstance(documented_type, GraphQLObjectType)
    documented_type.description = None
    assert "Customer" in undocumented(schema)
