"""Query planning: split a validated client operation into subgraph fetches.

A plan is a list of *phases* run one after the other (one phase for a query; one per group of
consecutive same-subgraph root fields for a mutation). A phase is a list of *stages*; every
fetch of a stage only needs data produced by earlier stages, so the executor sends, per stage,
one request per subgraph (several ``_entities`` fetches of a stage become aliased fields of that
one request). Root fetches carry the fields their subgraph owns plus ``__typename`` and key
fields wherever the plan jumps to another subgraph; entity fetches select the jumped fields on
``_entities`` and say how to build representations from the objects at their path.

``@skip``/``@include`` are applied while planning (their variable values are part of the plan
cache key), so subgraph documents never contain them.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLAbstractType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    ListValueNode,
    NameNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    is_object_type,
    print_ast,
)
from graphql.execution.collect_fields import collect_fields, collect_sub_fields

from crm_gateway.supergraph import KeyDef, Supergraph, field_set_names

INTERNAL_ALIAS_PREFIX = "_gw_"
_VARIABLE_RE = re.compile(r"\$([_A-Za-z][_0-9A-Za-z]*)")
REPRESENTATIONS_VAR = "_gw_r"


class PlanningError(Exception):
    """The operation cannot be served by the composed subgraphs (a composition gap)."""


# -- the selection IR that is printed into subgraph documents ----------------------------------


@dataclass(eq=False, slots=True)
class SelField:
    name: str
    alias: str | None
    arguments: tuple[ArgumentNode, ...]
    selection: SelSet | None


@dataclass(eq=False, slots=True)
class SelSet:
    """A subgraph selection set: fields by response key and inline fragments by type."""

    fields: dict[str, SelField] = field(default_factory=dict)
    fragments: dict[str, SelSet] = field(default_factory=dict)
    reserved: dict[str, str] = field(default_factory=dict)  # client response key -> field name

    def add(
        self, key: str, name: str, arguments: tuple[ArgumentNode, ...], composite: bool
    ) -> SelField:
        existing = self.fields.get(key)
        if existing is not None:
            return existing
        sel = SelField(
            name=name,
            alias=key if key != name else None,
            arguments=arguments,
            selection=SelSet() if composite else None,
        )
        self.fields[key] = sel
        return sel

    def ensure_typename(self) -> None:
        if "__typename" not in self.fields:
            self.fields["__typename"] = SelField("__typename", None, (), None)

    def fragment(self, type_name: str) -> SelSet:
        frag = self.fragments.get(type_name)
        if frag is None:
            frag = self.fragments[type_name] = SelSet(reserved=self.reserved)
        return frag

    def internal_key(self, name: str, arguments: tuple[ArgumentNode, ...] = ()) -> str:
        """The response key for a field the gateway adds itself (aliased on conflict)."""
        printed = tuple(print_ast(a) for a in arguments)
        if printed:
            # With arguments, the same field may be wanted with other values elsewhere at this
            # level (the client's selection, another @requires): never share the response key.
            return (
                INTERNAL_ALIAS_PREFIX + name + str(zlib.crc32("".join(printed).encode()) % 100_000)
            )
        existing = self.fields.get(name)
        if (
            existing is not None
            and existing.name == name
            and tuple(print_ast(a) for a in existing.arguments) == printed
        ):
            return name
        if existing is None and self.reserved.get(name, name) == name:
            return name
        return INTERNAL_ALIAS_PREFIX + name

    def print(self, out: list[str]) -> None:
        out.append("{")
        for sel in self.fields.values():
            out.append(" ")
            if sel.alias:
                out.append(sel.alias)
                out.append(": ")
            out.append(sel.name)
            if sel.arguments:
                out.append("(")
                out.append(", ".join(print_ast(a) for a in sel.arguments))
                out.append(")")
            if sel.selection is not None:
                out.append(" ")
                sel.selection.print(out)
        for type_name, frag in self.fragments.items():
            out.append(f" ... on {type_name} ")
            frag.print(out)
        out.append(" }")


# -- fetches and plans --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepField:
    """How to copy one field of a representation from a merged object."""

    name: str
    key: str
    sub: tuple[RepField, ...] | None = None


@dataclass(eq=False, slots=True)
class EntityPart:
    """What an entity fetch selects for one ``__typename`` and how it builds representations."""

    selection: SelSet
    rep: list[RepField]


@dataclass(eq=False, slots=True)
class Fetch:
    id: int
    subgraph: str
    stage: int
    path: tuple[str, ...]
    root: SelSet | None = None
    entities: dict[str, EntityPart] = field(default_factory=dict)
    variables: set[str] = field(default_factory=set)

    @property
    def is_root(self) -> bool:
        return self.root is not None


@dataclass(eq=False, slots=True)
class Phase:
    operation: str  # "query" | "mutation"
    stages: list[list[Fetch]]


@dataclass(eq=False, slots=True)
class QueryPlan:
    """A cached, reusable plan; documents are printed lazily and memoised."""

    operation_name: str | None
    phases: list[Phase]
    variable_definitions: dict[str, VariableDefinitionNode]
    _documents: dict[tuple[int, ...], str] = field(default_factory=dict)

    def document(self, operation: str, fetches: list[Fetch]) -> str:
        """One subgraph request for fetches of the same stage and subgraph."""
        cache_key = tuple(f.id for f in fetches)
        cached = self._documents.get(cache_key)
        if cached is not None:
            return cached
        variables: set[str] = set()
        for f in fetches:
            variables |= f.variables
        out: list[str] = []
        entity_fetches = [f for f in fetches if not f.is_root]
        if entity_fetches:
            out.append("{")
            for f in entity_fetches:
                out.append(f" e{f.id}: _entities(representations: ${REPRESENTATIONS_VAR}{f.id}) ")
                sel = SelSet()
                for type_name, part in f.entities.items():
                    sel.fragments[type_name] = part.selection
                sel.print(out)
            out.append(" }")
        else:
            root = fetches[0].root
            assert root is not None
            assert len(fetches) == 1
            root.print(out)
        body = "".join(out)
        # Declare only the variables the printed selection really uses (a field may have been
        # merged into another selection, or moved to another fetch, after it was planned).
        used = set(_VARIABLE_RE.findall(body))
        name = self.operation_name or "Anonymous"
        head = f"{operation} {name}__{_safe(fetches[0].subgraph)}__{fetches[0].stage}"
        var_defs = [print_ast(self.variable_definitions[v]) for v in sorted(variables & used)]
        var_defs.extend(f"${REPRESENTATIONS_VAR}{f.id}: [_Any!]!" for f in entity_fetches)
        if var_defs:
            head += "(" + ", ".join(var_defs) + ")"
        text = head + " " + body
        self._documents[cache_key] = text
        return text


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _variables_in(value: ValueNode, out: set[str]) -> None:
    if isinstance(value, VariableNode):
        out.add(value.name.value)
    elif isinstance(value, ListValueNode):
        for item in value.values:
            _variables_in(item, out)
    elif isinstance(value, ObjectValueNode):
        for object_field in value.fields:
            _variables_in(object_field.value, out)


# -- the planner --------------------------------------------------------------------------------


ProvidedTree = Mapping[str, "ProvidedTree"]


def _provided_tree(selection_set: SelectionSetNode | None) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    if selection_set is None:
        return tree
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            tree[sel.name.value] = _provided_tree(sel.selection_set)
    return tree


class _PlanBuilder:
    """Plans one operation; one instance per (operation, skip/include values)."""

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

    def plan_root(self, operation: OperationDefinitionNode) -> list[Phase]:
        if operation.operation == OperationType.QUERY:
            root_type = self.schema.query_type
        elif operation.operation == OperationType.MUTATION:
            root_type = self.schema.mutation_type
        else:
            raise PlanningError("subscriptions are not supported by this gateway")
        assert root_type is not None
        fields = collect_fields(
            self.schema, self.fragments, self.variables, root_type, operation.selection_set
        )
        phases: list[Phase] = []
        by_graph: dict[str, Fetch] = {}
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
                graph = next((g for g in graphs if g in by_graph), graphs[0])
            fetch = by_graph.get(graph)
            if fetch is None:
                fetch = by_graph[graph] = self.new_fetch(graph, 0, (), root=True)
            assert fetch.root is not None
            fetch.root.reserved[key] = name
            self.plan_field(root_type, key, nodes, fetch, fetch.root, (), None)
        if by_graph:
            phases.append(self.take_phase("mutation" if is_mutation else "query"))
        return phases

    # -- fields ---------------------------------------------------------------------------

    def plan_field(
        self,
        parent: GraphQLObjectType,
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
        local = fetch.subgraph in graphs or (provided is not None and name in provided)
        if local and not in_entity_part and not (provided and name in provided):
            join = self.sg.field_join(parent.name, name, fetch.subgraph)
            if join is not None and join.requires:
                # Required fields only reach a subgraph inside an _entities representation.
                graphs, local = (fetch.subgraph,), False
        if not local:
            if not graphs:
                raise PlanningError(f"no subgraph resolves {parent.name}.{name}")
            child, part = self.entity_part(fetch, parent, name, graphs, target, path)
            return self.plan_field(
                parent, key, nodes, child, part.selection, path, None, in_entity_part=True
            )
        field_def = parent.fields.get(name)
        if field_def is None:
            raise PlanningError(f"unknown field {parent.name}.{name}")
        named = get_named_type(field_def.type)
        composite = is_composite_type(named)
        arguments = tuple(nodes[0].arguments or ())
        for arg in arguments:
            _variables_in(arg.value, fetch.variables)
        sel = target.add(key, name, arguments, composite)
        if not composite:
            return fetch.stage
        assert sel.selection is not None
        if provided is not None and name in provided:
            sub_provided: ProvidedTree | None = provided[name]
        else:
            join = self.sg.field_join(parent.name, name, fetch.subgraph)
            sub_provided = (
                _provided_tree(join.provides_selection)
                if join is not None and join.provides
                else None
            )
        return self.plan_selection(
            named,
            nodes,
            fetch,
            sel.selection,
            (*path, key),
            sub_provided,
        )

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
        target.ensure_typename()
        in_graph = set(self.sg.possible_types(fetch.subgraph, named.name))
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

    def plan_fields(
        self,
        parent: GraphQLObjectType,
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

    # -- entity jumps ---------------------------------------------------------------------

    def choose_key(
        self, parent: GraphQLObjectType, source: str, graphs: Iterable[str], path: tuple[str, ...]
    ) -> tuple[str, KeyDef]:
        """Pick the target subgraph and the key the source subgraph can fill in."""
        ordered = sorted(
            graphs, key=lambda g: 0 if any(k[0] == path and k[1] == g for k in self.children) else 1
        )
        for graph in ordered:
            for key in self.sg.resolvable_keys(parent.name, graph):
                if all(
                    source in self.sg.field_graphs(parent.name, f)
                    for f in field_set_names(key.selection_set)
                ):
                    return graph, key
        # No key the source can fill in itself: take one whose fields another subgraph can
        # provide (they are planned as an earlier entity jump, which delays this one).
        for graph in ordered:
            for key in self.sg.resolvable_keys(parent.name, graph):
                if all(
                    any(
                        g != graph and self.sg.resolvable_keys(parent.name, g)
                        for g in self.sg.field_graphs(parent.name, f)
                    )
                    or source in self.sg.field_graphs(parent.name, f)
                    for f in field_set_names(key.selection_set)
                ):
                    return graph, key
        raise PlanningError(
            f"cannot reach {parent.name} in {', '.join(graphs)} from subgraph {source}"
        )

    def ensure_field_set(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fetch: Fetch,
        target: SelSet,
        path: tuple[str, ...],
    ) -> tuple[list[RepField], int]:
        """Add key/required fields to the source selection; say where to read them back."""
        reps: list[RepField] = []
        stage = fetch.stage
        for sel in selection_set.selections:
            if not isinstance(sel, FieldNode):
                raise PlanningError("fragments in @key/@requires field sets are not supported")
            name = sel.name.value
            key = target.internal_key(name, tuple(sel.arguments or ()))
            node = FieldNode(
                alias=NameNode(value=key) if key != name else None,
                name=sel.name,
                arguments=sel.arguments,
                directives=(),
                selection_set=sel.selection_set,
            )
            stage = max(stage, self.plan_field(parent, key, [node], fetch, target, path, None))
            sub = None
            if sel.selection_set is not None:
                sub = tuple(_rep_fields(sel.selection_set))
            reps.append(RepField(name, key, sub))
        return reps, stage

    def entity_part(
        self,
        fetch: Fetch,
        parent: GraphQLObjectType,
        field_name: str,
        graphs: tuple[str, ...],
        target: SelSet,
        path: tuple[str, ...],
    ) -> tuple[Fetch, EntityPart]:
        graph, key = self.choose_key(parent, fetch.subgraph, graphs, path)
        target.ensure_typename()
        key_reps, key_stage = self.ensure_field_set(parent, key.selection_set, fetch, target, path)
        required_reps: list[RepField] = []
        stage = key_stage + 1
        join = self.sg.field_join(parent.name, field_name, graph)
        if join is not None and join.requires_selection is not None:
            required_reps, produced_at = self.ensure_field_set(
                parent, join.requires_selection, fetch, target, path
            )
            stage = max(stage, produced_at + 1)
        child = self.children.get((path, graph, stage))
        if child is not None:
            existing = child.entities.get(parent.name)
            if existing is not None and _conflicts(existing.rep, required_reps):
                child = None  # the same field required with other arguments: its own fetch
        if child is None:
            child = self.new_fetch(graph, stage, path, root=False)
            self.children.setdefault((path, graph, stage), child)
        part = child.entities.get(parent.name)
        if part is None:
            rep = [RepField("__typename", "__typename"), *key_reps]
            part = child.entities[parent.name] = EntityPart(
                selection=SelSet(reserved=target.reserved), rep=rep
            )
        known = {r.name for r in part.rep}
        part.rep.extend(r for r in required_reps if r.name not in known)
        return child, part


def _conflicts(existing: list[RepField], wanted: list[RepField]) -> bool:
    keys = {r.name: r.key for r in existing}
    return any(r.name in keys and keys[r.name] != r.key for r in wanted)


def _rep_fields(selection_set: SelectionSetNode) -> list[RepField]:
    out = []
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            sub = tuple(_rep_fields(sel.selection_set)) if sel.selection_set else None
            out.append(RepField(sel.name.value, sel.name.value, sub))
    return out


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
        builder = _PlanBuilder(self.supergraph, self.schema, fragments, variables)
        phases = builder.plan_root(operation)
        return QueryPlan(
            operation_name=operation.name.value if operation.name else None,
            phases=phases,
            variable_definitions={
                v.variable.name.value: v for v in operation.variable_definitions or ()
            },
        )
