"""Abstract positions: candidate subgraphs, common union/interface members, ``@interfaceObject``.

A shareable position that several subgraphs could resolve keeps only the member types all of
them agree on (`AbstractTypes.candidate_graphs`, `common_members`); a selection on an interface
that the fetch's subgraph declares ``@interfaceObject`` is planned on the interface, with the
concrete type fetched from the interface's owner when needed (`plan_interface_object`).
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)
from graphql.execution.collect_fields import collect_sub_fields

from crm_gateway.federation.planning.plan import Fetch, PlanningError, SelSet
from crm_gateway.federation.planning.reentry import Reentry


class AbstractTypes(Reentry):
    """The builder's rules for positions of abstract type and interface objects."""

    def candidate_graphs(
        self, parent: GraphQLObjectType | GraphQLInterfaceType, name: str, fetch: Fetch
    ) -> frozenset[str]:
        """The subgraphs that could resolve ``parent.name`` at this position of the operation.

        A root field: every subgraph that defines it. A field of an entity: every subgraph
        that defines it and can be reached with a key (the plan could resolve it there
        instead). A field of a value type: those of the enclosing position that define it
        (a value type is only reachable through its parent). When a shareable path can be
        resolved by several subgraphs, only what all of them agree on is guaranteed, so an
        abstract type below keeps only the members common to them (`plan_selection`).
        """
        graphs = set(self.sg.field_graphs(parent.name, name))
        if not self.candidates or parent.name == self.root_type_name:
            return frozenset(graphs)
        if any(self.sg.resolvable_keys(parent.name, g) for g in graphs):
            return frozenset(
                g for g in graphs if g == fetch.subgraph or self.sg.resolvable_keys(parent.name, g)
            )
        return frozenset(graphs & self.candidates[-1]) or frozenset(graphs)

    def common_members(self, named: GraphQLAbstractType, fetch: Fetch) -> set[str]:
        """The object types of ``named`` the fetch's subgraph returns that every candidate
        subgraph of this position also has (an @interfaceObject subgraph has them all)."""
        keep = set(self.sg.possible_types(fetch.subgraph, named.name))
        for graph in self.candidates[-1] if self.candidates else ():
            if graph == fetch.subgraph or self.sg.is_interface_object(graph, named.name):
                continue
            members = self.sg.possible_types(graph, named.name)
            if members:
                keep &= set(members)
        return keep

    def plan_interface_object(
        self,
        named: GraphQLInterfaceType,
        nodes: list[FieldNode],
        fetch: Fetch,
        target: SelSet,
        path: tuple[str, ...],
    ) -> int:
        """Plan a selection on an interface the fetch's subgraph declares ``@interfaceObject``.

        That subgraph answers the interface name as ``__typename``. Fields selected on the
        interface itself are planned on it like on an object type; ``__typename`` and
        fragments on concrete types need the real type, fetched with ``_entities`` from the
        subgraph owning the interface entity, which then also resolves those fragments.
        """
        # Matching fragments against the interface itself keeps only those without a
        # concrete type condition.
        direct = collect_sub_fields(
            self.schema,
            self.fragments,
            self.variables,
            named,  # type: ignore[arg-type]
            nodes,
        )
        target.ensure_typename()
        on_interface = {k: v for k, v in direct.items() if v[0].name.value != "__typename"}
        stage = self.plan_fields(named, on_interface, fetch, target, path, None)
        by_type: dict[GraphQLObjectType, dict[str, list[FieldNode]]] = {}
        for possible in self.schema.get_possible_types(named):
            fields = collect_sub_fields(
                self.schema, self.fragments, self.variables, possible, nodes
            )
            typed = {k: v for k, v in fields.items() if k not in direct}
            if typed:
                by_type[possible] = typed
        if not by_type and len(on_interface) == len(direct):
            # No concrete type needed: shaping may use any implementation.
            self.interface_object_paths.add(path)
            return stage
        owner = self.sg.interface_owner(named.name)
        if owner is None:
            raise PlanningError(f"no subgraph resolves the concrete type of {named.name}")
        child, part = self.entity_part(fetch, named, "__typename", (owner,), target, path)
        part.selection.ensure_typename()
        stage = max(stage, child.stage)
        in_owner = set(self.sg.possible_types(owner, named.name))
        for possible, typed in by_type.items():
            if possible.name in in_owner:
                frag = part.selection.fragment(possible.name)
                stage = max(stage, self.plan_fields(possible, typed, child, frag, path, None))
        return stage
