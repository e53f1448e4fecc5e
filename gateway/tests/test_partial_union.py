"""Unions whose members differ between subgraphs ("partial unions") below shareable fields.

When a shareable path could be resolved by several subgraphs (a shareable field of an entity
every one of them can reach with a key, or a shareable root field), only the union members
common to those subgraphs are guaranteed; fragments on the others are not sent, so their
fields come back null even though the queried subgraph could answer them (the federation
conformance suite's `partial-union-complex` 0 and 1). A path only one subgraph can resolve
(a root field of one subgraph, a field that forces an entity jump) keeps that subgraph's
members.
"""

from __future__ import annotations

from typing import Any

import pytest

from .federation_kit import TinySubgraph, gateway, serve

SUPERGRAPH = """
enum join__Graph { A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}") }
type Query @join__type(graph: A) @join__type(graph: B) {
  rootA: Container @join__field(graph: A)
  rootB: Container @join__field(graph: B)
  shared: Container @join__field(graph: A) @join__field(graph: B)
}
type Container @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") {
  id: ID!
  wrapper: Wrapper @join__field(graph: A) @join__field(graph: B)
  bWrapper: Wrapper @join__field(graph: B)
}
type Wrapper @join__type(graph: A) @join__type(graph: B) {
  actions: [Action!]!
}
union Action @join__type(graph: A) @join__type(graph: B)
  @join__unionMember(graph: A, member: "Common") @join__unionMember(graph: A, member: "OnlyA")
  @join__unionMember(graph: B, member: "Common") @join__unionMember(graph: B, member: "OnlyB")
  = Common | OnlyA | OnlyB
type Common @join__type(graph: A) @join__type(graph: B) { label: String }
type OnlyA @join__type(graph: A) { a: String }
type OnlyB @join__type(graph: B) { b: String }
"""

COMMON = {"__typename": "Common", "label": "common label"}
ONLY_A = {"__typename": "OnlyA", "a": "only a"}
ONLY_B = {"__typename": "OnlyB", "b": "only b"}


def _subgraph(name: str, member: dict[str, Any]) -> TinySubgraph:
    other = "OnlyA" if name == "a" else "OnlyB"
    field = "a" if name == "a" else "b"
    b_wrapper = " bWrapper: Wrapper" if name == "b" else ""
    sdl = f"""
    type Query {{ root{name.upper()}: Container shared: Container
      _entities(representations: [_Any!]!): [_Entity]! }}
    union _Entity = Container
    type Container {{ id: ID! wrapper: Wrapper{b_wrapper} }}
    type Wrapper {{ actions: [Action!]! }}
    union Action = Common | {other}
    type Common {{ label: String }}
    type {other} {{ {field}: String }}
    """
    own = {"id": "c1", "wrapper": {"actions": [COMMON, member]}}
    if name == "b":
        own["bWrapper"] = {"actions": [COMMON, member]}
    return TinySubgraph(
        sdl,
        {
            f"root{name.upper()}": own,
            "shared": {"id": "c1", "wrapper": {"actions": [COMMON]}},
        },
        lambda rep: {"__typename": "Container", **own} if rep.get("id") == "c1" else None,
    )


ALL_MEMBERS = "__typename ... on Common { label } ... on OnlyA { a } ... on OnlyB { b }"


@pytest.fixture
def subs() -> dict[str, TinySubgraph]:
    return {"a": _subgraph("a", ONLY_A), "b": _subgraph("b", ONLY_B)}


async def test_shareable_entity_field_keeps_only_members_common_to_its_subgraphs_a(
    subs: dict[str, TinySubgraph],
) -> None:
    """Case 0: `wrapper` could come from a or b; OnlyA is only in a, so `a` is null."""
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post(f"{{ rootA {{ wrapper {{ actions {{ {ALL_MEMBERS} }} }} }} }}")
    assert body == {
        "data": {
            "rootA": {
                "wrapper": {
                    "actions": [
                        {"__typename": "Common", "label": "common label"},
                        {"__typename": "OnlyA", "a": None},
                    ]
                }
            }
        }
    }
    assert "OnlyA" not in subs["a"].queries[0]


async def test_shareable_entity_field_keeps_only_members_common_to_its_subgraphs_b(
    subs: dict[str, TinySubgraph],
) -> None:
    """Case 1: the same from b's side: `b` is null."""
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post(f"{{ rootB {{ wrapper {{ actions {{ {ALL_MEMBERS} }} }} }} }}")
    assert body == {
        "data": {
            "rootB": {
                "wrapper": {
                    "actions": [
                        {"__typename": "Common", "label": "common label"},
                        {"__typename": "OnlyB", "b": None},
                    ]
                }
            }
        }
    }


async def test_member_of_another_subgraph_only_gives_typenames(
    subs: dict[str, TinySubgraph],
) -> None:
    """Case 2: a fragment on a member a does not have selects nothing there."""
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post("{ rootA { wrapper { actions { __typename ... on OnlyB { b } } } } }")
    actions = [{"__typename": "Common"}, {"__typename": "OnlyA"}]
    assert body == {"data": {"rootA": {"wrapper": {"actions": actions}}}}


async def test_shared_root_field_resolves_the_common_members(
    subs: dict[str, TinySubgraph],
) -> None:
    """Case 3: a shareable root field: the common members, as either subgraph answers."""
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post(f"{{ shared {{ wrapper {{ actions {{ {ALL_MEMBERS} }} }} }} }}")
    actions = [{"__typename": "Common", "label": "common label"}]
    assert body == {"data": {"shared": {"wrapper": {"actions": actions}}}}


async def test_entity_jump_keeps_the_target_subgraphs_members(
    subs: dict[str, TinySubgraph],
) -> None:
    """Case 4: `bWrapper` is only in b (an entity jump): b's members, `b` answered."""
    async with serve(subs), gateway(SUPERGRAPH, subs) as post:
        body = await post(f"{{ rootA {{ bWrapper {{ actions {{ {ALL_MEMBERS} }} }} }} }}")
    actions = [
        {"__typename": "Common", "label": "common label"},
        {"__typename": "OnlyB", "b": "only b"},
    ]
    assert body == {"data": {"rootA": {"bWrapper": {"actions": actions}}}}


ONE_SUBGRAPH_ROOT = """
enum join__Graph { A @join__graph(name: "a", url: "{a}") B @join__graph(name: "b", url: "{b}") }
type Query @join__type(graph: A) @join__type(graph: B) {
  response: Response @join__field(graph: A)
}
type Response @join__type(graph: A) @join__type(graph: B) { actions: [Act!]! }
union Act @join__type(graph: A) @join__type(graph: B)
  @join__unionMember(graph: A, member: "Alpha") @join__unionMember(graph: A, member: "Beta")
  @join__unionMember(graph: B, member: "Alpha") = Alpha | Beta
type Alpha @join__type(graph: A) @join__type(graph: B) { id: ID! }
type Beta @join__type(graph: A) { name: String }
"""


async def test_value_type_under_a_single_subgraph_root_keeps_all_its_members() -> None:
    """A value type is only reachable through its parent: the root field is a's alone, so
    every member a declares is kept (the suite's `partial-union`)."""
    subs = {
        "a": TinySubgraph(
            "type Query { response: Response } type Response { actions: [Act!]! }"
            " union Act = Alpha | Beta type Alpha { id: ID! } type Beta { name: String }",
            {
                "response": {
                    "actions": [
                        {"__typename": "Alpha", "id": "1"},
                        {"__typename": "Beta", "name": "x"},
                    ]
                }
            },
        ),
        "b": TinySubgraph(
            "type Query { x: Int } type Response { actions: [Act!]! } union Act = Alpha"
            " type Alpha { id: ID! }",
            {},
        ),
    }
    async with serve(subs), gateway(ONE_SUBGRAPH_ROOT, subs) as post:
        body = await post(
            "{ response { actions { __typename ... on Alpha { id } ... on Beta { name } } } }"
        )
    actions = [{"__typename": "Alpha", "id": "1"}, {"__typename": "Beta", "name": "x"}]
    assert body == {"data": {"response": {"actions": actions}}}
