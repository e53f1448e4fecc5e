"""``@interfaceObject``: subgraph B knows the interface ``Account`` only as an object type.

A owns the interface entity (``@key`` on ``Account``) and its implementations ``Admin`` and
``Regular``; B adds ``Account.name`` and serves ``Query.accounts``, answering ``Account`` as
``__typename``; C adds ``Account.active`` (also an interface object) while A has its own
``Admin.active`` with other values, so a wrong source shows in the data.
"""

from __future__ import annotations

from typing import Any

from .federation_kit import TinySubgraph, gateway, serve

SUPERGRAPH = """
enum join__Graph {
  A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}")
  C @join__graph(name: "c", url: "{c}")
}
interface Account @join__type(graph: A, key: "id")
  @join__type(graph: B, key: "id", isInterfaceObject: true)
  @join__type(graph: C, key: "id", isInterfaceObject: true) {
  id: ID!
  name: String! @join__field(graph: B)
  active: Boolean! @join__field(graph: C)
}
type Admin implements Account @join__implements(graph: A, interface: "Account")
  @join__type(graph: A, key: "id") {
  id: ID!
  level: Int!
  active: Boolean!
  name: String! @join__field
}
type Regular implements Account @join__implements(graph: A, interface: "Account")
  @join__type(graph: A, key: "id") {
  id: ID!
  name: String! @join__field
  active: Boolean! @join__field
}
type Query @join__type(graph: A) @join__type(graph: B) @join__type(graph: C) {
  admins: [Admin!]! @join__field(graph: A)
  accounts: [Account!]! @join__field(graph: B)
}
"""

KINDS = {"u1": "Admin", "u2": "Regular"}
NAMES = {"u1": "Ada", "u2": "Bo"}

A_SDL = """
interface Account { id: ID! }
type Admin implements Account { id: ID! level: Int! active: Boolean! }
type Regular implements Account { id: ID! }
union _Entity = Admin | Regular
type Query { admins: [Admin!]! _entities(representations: [_Any!]!): [_Entity]! }
"""
B_SDL = """
type Account { id: ID! name: String! }
union _Entity = Account
type Query { accounts: [Account!]! _entities(representations: [_Any!]!): [_Entity]! }
"""
C_SDL = """
type Account { id: ID! active: Boolean! }
union _Entity = Account
type Query { _entities(representations: [_Any!]!): [_Entity]! }
"""


def _a_entity(rep: dict[str, Any]) -> dict[str, Any]:
    # Account representations resolve to the concrete type, as the interface owner must.
    kind = KINDS[rep["id"]]
    out: dict[str, Any] = {"__typename": kind, "id": rep["id"]}
    if kind == "Admin":
        out |= {"level": 7, "active": True}
    return out


def _subgraphs() -> dict[str, TinySubgraph]:
    return {
        "a": TinySubgraph(A_SDL, {"admins": [_a_entity({"id": "u1"})]}, _a_entity),
        "b": TinySubgraph(
            B_SDL,
            {"accounts": [{"__typename": "Account", "id": i, "name": NAMES[i]} for i in KINDS]},
            # B knows no Admin/Regular: only representations typed Account resolve.
            lambda rep: (
                {"__typename": "Account", "id": rep["id"], "name": NAMES[rep["id"]]}
                if rep["__typename"] == "Account"
                else None
            ),
        ),
        "c": TinySubgraph(
            C_SDL, {}, lambda rep: {"__typename": "Account", "id": rep["id"], "active": False}
        ),
    }


async def test_interface_fields_need_no_concrete_type() -> None:
    subs = _subgraphs()
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post("{ accounts { id name active } }")
        assert body == {
            "data": {
                "accounts": [
                    {"id": "u1", "name": "Ada", "active": False},
                    {"id": "u2", "name": "Bo", "active": False},
                ]
            }
        }
        # Account.active comes from the interface object C, A is never asked.
        assert subs["a"].queries == []
        assert "Account" in subs["c"].queries[0]


async def test_typename_and_type_conditions_come_from_the_interface_owner() -> None:
    subs = _subgraphs()
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post("{ accounts { __typename name ... on Admin { level active } } }")
        assert body == {
            "data": {
                "accounts": [
                    {"__typename": "Admin", "name": "Ada", "level": 7, "active": True},
                    {"__typename": "Regular", "name": "Bo"},
                ]
            }
        }


async def test_implementation_fields_fetched_from_the_interface_object() -> None:
    subs = _subgraphs()
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post("{ admins { id name } }")
        assert body == {"data": {"admins": [{"id": "u1", "name": "Ada"}]}}
        # B is asked with the interface name, the only type it knows.
        assert "... on Account" in subs["b"].queries[0]
