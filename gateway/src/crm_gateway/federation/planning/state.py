"""The state one plan builder keeps while planning an operation."""

from __future__ import annotations

import abc
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    SelectionSetNode,
)

from crm_gateway.federation.planning.plan import (
    Fetch,
    Phase,
    SelSet,
)
from crm_gateway.federation.supergraph.model import (
    Supergraph,
)

ProvidedTree = Mapping[str, "ProvidedTree"]


def provided_tree(selection_set: SelectionSetNode | None) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    if selection_set is None:
        return tree
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            tree[sel.name.value] = provided_tree(sel.selection_set)
    return tree


@dataclass(frozen=True, slots=True)
class Step:
    """One composite field on the way to the object being planned, and where it was planned."""

    parent: GraphQLObjectType | GraphQLInterfaceType
    key: str
    node: FieldNode
    fetch: Fetch
    target: SelSet
    path: tuple[str, ...]


class BuilderState(abc.ABC):
    """What a plan builder knows while planning one operation (the builder completes it)."""

    def __init__(
        self,
        supergraph: Supergraph,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.sg = supergraph
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.ids = itertools.count()
        self.fetches: list[Fetch] = []
        self.children: dict[tuple[tuple[str, ...], str, int], Fetch] = {}
        self.interface_object_paths: set[tuple[str, ...]] = set()
        # The fields (outermost first) that led to the object being planned.
        self.chain: list[Step] = []
        # Per step of `chain`: the subgraphs that could resolve that field at that position
        # (`AbstractTypes.candidate_graphs`); abstract types keep only their common members.
        self.candidates: list[frozenset[str]] = []
        # Root fetches by subgraph; None outside queries (a mutation never runs twice).
        self.root_fetches: dict[str, Fetch] | None = None
        self.root_type_name = ""
        # Key/required fields being planned, to stop a key that is only reachable via itself.
        self.filling: set[tuple[str, str, int]] = set()
        # Field nodes of required field sets with type conditions, copied as written.
        self.verbatim: set[int] = set()
        # Field nodes the gateway made for keys and @requires (read back by their key); kept
        # alive in `made_nodes` so that their ids stay unique while planning.
        self.gateway_nodes: set[int] = set()
        self.made_nodes: list[FieldNode] = []

    def new_fetch(self, subgraph: str, stage: int, path: tuple[str, ...], root: bool) -> Fetch:
        fetch = Fetch(
            id=next(self.ids),
            subgraph=subgraph,
            stage=stage,
            path=path,
            root=SelSet() if root else None,
        )
        self.fetches.append(fetch)
        return fetch

    def take_phase(self, operation: str) -> Phase:
        stages: dict[int, list[Fetch]] = {}
        for f in self.fetches:
            stages.setdefault(f.stage, []).append(f)
        self.fetches = []
        self.children = {}
        return Phase(operation, [stages[s] for s in sorted(stages)])

    # -- root -----------------------------------------------------------------------------

    @abc.abstractmethod
    def plan_field(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        key: str,
        nodes: list[FieldNode],
        fetch: Fetch,
        target: SelSet,
        path: tuple[str, ...],
        provided: ProvidedTree | None,
        *,
        in_entity_part: bool = False,
    ) -> int:
        """Plan one response key (`PlanBuilder.plan_field`)."""

    def plan_fields(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        fields: Mapping[str, list[FieldNode]],
        fetch: Fetch,
        target: SelSet,
        path: tuple[str, ...],
        provided: ProvidedTree | None,
    ) -> int:
        for key, nodes in fields.items():
            target.reserved.setdefault(key, nodes[0].name.value)
        stage = fetch.stage
        for key, nodes in fields.items():
            stage = max(stage, self.plan_field(parent, key, nodes, fetch, target, path, provided))
        return stage
