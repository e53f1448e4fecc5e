"""Query planning: split a validated client operation into subgraph fetches (`plan.py`).

``@skip``/``@include`` are applied while planning (their variable values are part of the plan
cache key), so subgraph documents never contain them. The builder is layered by concern: its
state (`state.py`), entity jumps (key choice, required fields: `entities.py`), re-entry along
the path from another subgraph (`reentry.py`), abstract positions and ``@interfaceObject``
(`abstract.py`), and here the root, fields and selections.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLAbstractType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    is_composite_type,
    is_object_type,
)
from graphql.execution.collect_fields import collect_fields, collect_sub_fields

from crm_gateway.federation.planning.abstract import AbstractTypes
from crm_gateway.federation.planning.fieldsets import (
    copy_selection,
    selection_size,
)
from crm_gateway.federation.planning.plan import (
    Fetch,
    Phase,
    PlanningError,
    QueryPlan,
    SelSet,
    type_alias,
    variables_in,
)
from crm_gateway.federation.planning.state import ProvidedTree, Step, provided_tree
from crm_gateway.federation.supergraph.model import (
    ENUM,
    SCALAR,
    Supergraph,
)


class PlanBuilder(AbstractTypes):
    """Plans one operation; one instance per (operation, skip/include values)."""

    # -- root -----------------------------------------------------------------------------

    def plan_root(self, operation: OperationDefinitionNode) -> list[Phase]:
        if operation.operation == OperationType.QUERY:
            root_type = self.schema.query_type
        elif operation.operation == OperationType.MUTATION:
            root_type = self.schema.mutation_type
        else:
            # A subscription: its one root field comes from the owning subgraph (a
            # graphql-transport-ws stream, crm_gateway.subscriptions); the later stages are
            # the `_entities` fetches run for every event.
            root_type = self.schema.subscription_type
        if root_type is None:
            raise PlanningError(f"the schema has no {operation.operation.value} type")
        fields = collect_fields(
            self.schema, self.fragments, self.variables, root_type, operation.selection_set
        )
        phases: list[Phase] = []
        by_graph: dict[str, Fetch] = {}
        self.root_type_name = root_type.name
        if operation.operation == OperationType.QUERY:
            self.root_fetches = by_graph
        previous_graph: str | None = None
        is_mutation = operation.operation == OperationType.MUTATION
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name.startswith("__"):
                continue  # __typename, __schema, __type: answered by the gateway itself
            graphs = self.sg.field_graphs(root_type.name, name)
            if not graphs:
                raise PlanningError(f"no subgraph resolves {root_type.name}.{name}")
            if is_mutation:
                graph = previous_graph if previous_graph in graphs else graphs[0]
                if graph != previous_graph and by_graph:
                    phases.append(self.take_phase("mutation"))
                    by_graph = {}
                previous_graph = graph
            else:
                graph = graphs[0]
                if len(graphs) > 1:
                    # Shared root field: the subgraph giving the fewest follow-up fetches
                    # (e.g. thanks to @provides), then one already asked, then the first.
                    graph = min(
                        graphs,
                        key=lambda g: (
                            *self._trial_cost(root_type, key, nodes, g),
                            g not in by_graph,
                        ),
                    )
            fetch = by_graph.get(graph)
            if fetch is None:
                fetch = by_graph[graph] = self.new_fetch(graph, 0, (), root=True)
            assert fetch.root is not None
            fetch.root.reserved[key] = name
            self.plan_field(root_type, key, nodes, fetch, fetch.root, (), None)
        if by_graph:
            phases.append(self.take_phase(operation.operation.value))
        return phases

    def _trial_cost(
        self, root_type: GraphQLObjectType, key: str, nodes: list[FieldNode], graph: str
    ) -> tuple[int, int]:
        """Fetches and entity-fetched fields if the root field were planned in ``graph``."""
        trial = PlanBuilder(self.sg, self.schema, self.fragments, self.variables)
        trial.root_type_name = root_type.name
        trial.root_fetches = {}
        fetch = trial.root_fetches[graph] = trial.new_fetch(graph, 0, (), root=True)
        assert fetch.root is not None
        try:
            trial.plan_field(root_type, key, nodes, fetch, fetch.root, (), None)
        except PlanningError:
            return 1 << 30, 0
        fetched = sum(
            selection_size(part.selection) for f in trial.fetches for part in f.entities.values()
        )
        return len(trial.fetches), fetched

    # -- fields ---------------------------------------------------------------------------

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
        """Plan one response key; returns the highest stage whose fetch produces its data."""
        name = nodes[0].name.value
        if name == "__typename":
            target.ensure_typename()
            return fetch.stage
        graphs = self.sg.field_graphs(parent.name, name)
        local = (
            fetch.subgraph in graphs
            or (provided is not None and name in provided)
            or name in target.echoes
        )
        if local and not in_entity_part and not (provided and name in provided):
            join = self.sg.field_join(parent.name, name, fetch.subgraph)
            if join is not None and join.requires:
                # Required fields only reach a subgraph inside an _entities representation.
                graphs, local = (fetch.subgraph,), False
        if not local:
            if not graphs:
                raise PlanningError(f"no subgraph resolves {parent.name}.{name}")
            if not self.has_direct_key(parent, fetch.subgraph, graphs, provided):
                # A value type split across subgraphs (or an entity whose key this subgraph
                # cannot fill in): re-enter the other subgraph through the nearest entity
                # ancestor or the query root, repeating the path.
                reentry = self.reenter(parent, graphs)
                if reentry is not None:
                    child, inner = reentry
                    return self.plan_field(
                        parent, key, nodes, child, inner, path, None, in_entity_part=True
                    )
            child, part = self.entity_part(fetch, parent, name, graphs, target, path, provided)
            return self.plan_field(
                parent, key, nodes, child, part.selection, path, None, in_entity_part=True
            )
        field_def = parent.fields.get(name)
        arguments = tuple(nodes[0].arguments or ())
        if field_def is None:
            # Not in the API schema: an @inaccessible leaf the gateway needs for a key or
            # @requires (clients cannot select it).
            if not self._is_hidden_leaf(parent.name, name):
                raise PlanningError(f"unknown field {parent.name}.{name}")
            target.add(key, name, arguments, False)
            return fetch.stage
        named = get_named_type(field_def.type)
        join = self.sg.field_join(parent.name, name, fetch.subgraph)
        if join is not None and is_composite_type(named):
            # The subgraph may declare a narrower type (an object where the supergraph has
            # a union): select only what that type can hold.
            own = self.schema.get_type(join.type.strip("[]!"))
            if own is not None and own is not named and is_object_type(own):
                named = own
        composite = is_composite_type(named)
        for arg in arguments:
            variables_in(arg.value, fetch.variables)
        if (
            target.in_fragment
            and join is not None
            and join.type != str(field_def.type)
            and id(nodes[0]) not in self.gateway_nodes
        ):
            # The subgraph types this field differently from the supergraph: a sibling
            # fragment may select the same key with another type, which the subgraph would
            # reject as a field conflict. Shaping reads the alias back (`type_alias`).
            key = type_alias(parent.name, key)
        sel = target.add(key, name, arguments, composite)
        if not composite:
            return fetch.stage
        assert sel.selection is not None
        if nodes[0].selection_set is not None and id(nodes[0]) in self.verbatim:
            copy_selection(nodes[0].selection_set, sel.selection)
            return fetch.stage
        if provided is not None and name in provided:
            sub_provided: ProvidedTree | None = provided[name]
        else:
            join = self.sg.field_join(parent.name, name, fetch.subgraph)
            sub_provided = (
                provided_tree(join.provides_selection)
                if join is not None and join.provides
                else None
            )
        self.chain.append(Step(parent, key, nodes[0], fetch, target, path))
        self.candidates.append(self.candidate_graphs(parent, name, fetch))
        try:
            return self.plan_selection(
                named,
                nodes,
                fetch,
                sel.selection,
                (*path, key),
                sub_provided,
            )
        finally:
            self.chain.pop()
            self.candidates.pop()

    def _is_hidden_leaf(self, type_name: str, field_name: str) -> bool:
        type_def = self.sg.types.get(type_name)
        field_def = None if type_def is None else type_def.fields.get(field_name)
        if field_def is None:
            return False
        named = field_def.type.strip("[]!")
        named_def = self.sg.types.get(named)
        return named_def is None or named_def.kind in (SCALAR, ENUM)

    def plan_selection(
        self,
        named: GraphQLObjectType | GraphQLAbstractType,
        nodes: list[FieldNode],
        fetch: Fetch,
        target: SelSet,
        path: tuple[str, ...],
        provided: ProvidedTree | None,
    ) -> int:
        stage = fetch.stage
        if is_object_type(named):
            assert isinstance(named, GraphQLObjectType)
            fields = collect_sub_fields(self.schema, self.fragments, self.variables, named, nodes)
            return max(stage, self.plan_fields(named, fields, fetch, target, path, provided))
        assert isinstance(named, GraphQLInterfaceType | GraphQLUnionType)
        if isinstance(named, GraphQLInterfaceType) and self.sg.is_interface_object(
            fetch.subgraph, named.name
        ):
            return self.plan_interface_object(named, nodes, fetch, target, path)
        target.ensure_typename()
        if not self.sg.possible_types(fetch.subgraph, named.name) and isinstance(
            named, GraphQLInterfaceType
        ):
            # The subgraph knows no implementation: fields on the interface still have to be
            # reachable from here (else the operation cannot be planned).
            direct = collect_sub_fields(
                self.schema,
                self.fragments,
                self.variables,
                named,  # type: ignore[arg-type]
                nodes,
            )
            return max(stage, self.plan_fields(named, direct, fetch, target, path, provided))
        in_graph = self.common_members(named, fetch)
        for possible in self.schema.get_possible_types(named):
            if possible.name not in in_graph:
                continue
            fields = collect_sub_fields(
                self.schema, self.fragments, self.variables, possible, nodes
            )
            if all(n[0].name.value == "__typename" for n in fields.values()):
                continue
            frag = target.fragment(possible.name)
            stage = max(stage, self.plan_fields(possible, fields, fetch, frag, path, provided))
        return stage


class Planner:
    """Builds `QueryPlan`s for operations against one supergraph."""

    def __init__(self, supergraph: Supergraph) -> None:
        self.supergraph = supergraph
        self.schema = supergraph.api_schema

    def plan(
        self,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> QueryPlan:
        builder = PlanBuilder(self.supergraph, self.schema, fragments, variables)
        phases = builder.plan_root(operation)
        return QueryPlan(
            interface_object_paths=frozenset(builder.interface_object_paths),
            operation_name=operation.name.value if operation.name else None,
            phases=phases,
            variable_definitions={
                v.variable.name.value: v for v in operation.variable_definitions or ()
            },
        )
