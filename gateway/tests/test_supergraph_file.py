"""Reading join-spec supergraph files (``SUPERGRAPH_FILE``) into the supergraph model."""

from __future__ import annotations

import pytest
from graphql import print_schema

from crm_gateway.federation.supergraph.composition import CompositionError, compose
from crm_gateway.federation.supergraph.file import parse_supergraph
from crm_gateway.federation.supergraph.printer import print_supergraph

from .test_composition import CUSTOMER, ENGAGEMENT

# As @theguild/federation-composition prints it (join v0.3, renamed root, progressive override).
EXTERNAL = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)
{ query: RootQuery }

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT
  | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean,
  overrideLabel: String) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @inaccessible on FIELD_DEFINITION | OBJECT
scalar join__FieldSet
enum join__Graph {
  A @join__graph(name: "a", url: "http://a/graphql")
  B @join__graph(name: "b", url: "http://b/graphql")
}
type RootQuery @join__type(graph: A) @join__type(graph: B) {
  products: [Product] @join__field(graph: A)
  hidden: Int @inaccessible @join__field(graph: B)
}
type Product @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", resolvable: false) {
  id: ID!
  price: Int @join__field(graph: A, overrideLabel: "percent(10)", override: "b")
    @join__field(graph: B)
  name: String @join__field(graph: A, override: "b") @join__field(graph: B, usedOverridden: true)
}
"""


def test_round_trip_of_our_own_printed_supergraph() -> None:
    composed = compose(
        {"customer": ("http://c/graphql", CUSTOMER), "engagement": ("http://e/graphql", ENGAGEMENT)}
    )
    parsed = parse_supergraph(print_supergraph(composed))
    assert print_schema(parsed.api_schema) == print_schema(composed.api_schema)
    assert parsed.subgraphs["engagement"].url == "http://e/graphql"
    assert parsed.field_graphs("Customer", "greeting") == ("engagement",)
    assert parsed.field_join("Customer", "greeting", "engagement").requires == "name"  # type: ignore[union-attr]
    assert [k.fields for k in parsed.resolvable_keys("Product", "engagement")] == []


def test_external_supergraph_roots_override_and_inaccessible() -> None:
    parsed = parse_supergraph(EXTERNAL)
    assert parsed.root_types == {"query": "Query"}
    schema = parsed.api_schema
    assert set(schema.query_type.fields) == {"products"}  # type: ignore[union-attr]
    assert parsed.field_graphs("Product", "name") == ("a",)  # b is overridden
    assert set(parsed.field_graphs("Product", "price")) == {"a", "b"}  # progressive: both
    assert parsed.resolvable_keys("Product", "b") == []


def test_not_a_supergraph_is_refused() -> None:
    with pytest.raises(CompositionError):
        parse_supergraph("type Query { a: Int }")
    with pytest.raises(CompositionError):
        parse_supergraph("type Query {")


def test_auth_off_needs_an_explicit_insecure_flag_and_loopback() -> None:
    from crm_gateway.settings import GatewaySettings

    GatewaySettings(auth=True).check_safe()
    with pytest.raises(ValueError, match="GATEWAY_ALLOW_INSECURE"):
        GatewaySettings(auth=False).check_safe()
    with pytest.raises(ValueError, match="loopback"):
        GatewaySettings(auth=False, allow_insecure=True, host="0.0.0.0").check_safe()
    GatewaySettings(auth=False, allow_insecure=True, host="127.0.0.1").check_safe()


def test_subscription_root_is_read_renamed() -> None:
    text = EXTERNAL.replace("{ query: RootQuery }", "{ query: RootQuery subscription: Events }")
    text += """
type Events @join__type(graph: A) {
  productChanged: Product @join__field(graph: A)
}
"""
    parsed = parse_supergraph(text)
    assert parsed.root_types == {"query": "Query", "subscription": "Subscription"}
    subscription = parsed.api_schema.subscription_type
    assert subscription is not None and set(subscription.fields) == {"productChanged"}
    assert parsed.field_graphs("Subscription", "productChanged") == ("a",)
