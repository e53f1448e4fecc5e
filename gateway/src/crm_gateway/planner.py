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
    InlineFragmentNode,
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

from crm_gateway.supergraph import ENUM, SCALAR, KeyDef, Supergraph, field_set_names

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
    in_fragment: bool = False  # a type condition inside an abstract selection
    # Fields an _entities answer echoes from its representation (keys the subgraph may
    # declare @external).
    echoes: frozenset[str] = frozenset()

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
            frag = self.fragments[type_name] = SelSet(reserved=self.reserved, in_fragment=True)
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

    def is_empty(self) -> bool:
        return not self.fields and all(f.is_empty() for f in self.fragments.values())

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
            if frag.is_empty():
                continue  # everything it selected is fetched elsewhere
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
    optional: bool = False  # inside a type condition: absent on other types


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
    # Concrete __typename -> entity part, where the subgraph knows the object only through an
    # interface (``@interfaceObject``, or an interface entity resolved to its concrete type).
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return self.root is not None

    def part_for(self, typename: Any) -> tuple[str, EntityPart] | None:
        """The entity part for an object of ``typename`` and the __typename to send for it."""
        if not isinstance(typename, str):
            return None
        part = self.entities.get(typename)
        if part is not None:
            return typename, part
        entity = self.aliases.get(typename)
        if entity is not None and entity in self.entities:
            return entity, self.entities[entity]
        return None


@dataclass(eq=False, slots=True)
class Phase:
    operation: str  # "query" | "mutation" | "subscription" (its stage 0: the root stream)
    stages: list[list[Fetch]]


@dataclass(eq=False, slots=True)
class QueryPlan:
    """A cached, reusable plan; documents are printed lazily and memoised."""

    operation_name: str | None
    phases: list[Phase]
    variable_definitions: dict[str, VariableDefinitionNode]
    # Response paths (keys only, no list indexes) where an @interfaceObject subgraph's
    # interface-named objects are kept as they are: any implementation may shape them.
    interface_object_paths: frozenset[tuple[str, ...]] = frozenset()
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


def type_alias(parent_type: str, key: str) -> str:
    """The subgraph response key of ``key`` under ``parent_type`` when its types conflict."""
    return f"{INTERNAL_ALIAS_PREFIX}{parent_type}__{key}"


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


@dataclass(frozen=True, slots=True)
class _Step:
    """One composite field on the way to the object being planned, and where it was planned."""

    parent: GraphQLObjectType | GraphQLInterfaceType
    key: str
    node: FieldNode
    fetch: Fetch
    target: SelSet
    path: tuple[str, ...]


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
        self.interface_object_paths: set[tuple[str, ...]] = set()
        # The fields (outermost first) that led to the object being planned.
        self.chain: list[_Step] = []
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
        trial = _PlanBuilder(self.sg, self.schema, self.fragments, self.variables)
        trial.root_type_name = root_type.name
        trial.root_fetches = {}
        fetch = trial.root_fetches[graph] = trial.new_fetch(graph, 0, (), root=True)
        assert fetch.root is not None
        try:
            trial.plan_field(root_type, key, nodes, fetch, fetch.root, (), None)
        except PlanningError:
            return 1 << 30, 0
        fetched = sum(
            _selection_size(part.selection) for f in trial.fetches for part in f.entities.values()
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
            _variables_in(arg.value, fetch.variables)
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
            _copy_selection(nodes[0].selection_set, sel.selection)
            return fetch.stage
        if provided is not None and name in provided:
            sub_provided: ProvidedTree | None = provided[name]
        else:
            join = self.sg.field_join(parent.name, name, fetch.subgraph)
            sub_provided = (
                _provided_tree(join.provides_selection)
                if join is not None and join.provides
                else None
            )
        self.chain.append(_Step(parent, key, nodes[0], fetch, target, path))
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

    def reenter(
        self, parent: GraphQLObjectType | GraphQLInterfaceType, graphs: tuple[str, ...]
    ) -> tuple[Fetch, SelSet] | None:
        """A fetch and selection in another subgraph reaching the current ``parent`` object.

        Walks up the fields that led here to the nearest entity that subgraph can resolve
        (or the root of a query), and selects the same path again from there.
        """
        for graph in graphs:
            if self.sg.resolvable_keys(parent.name, graph):
                continue  # an entity there: reached through its key, or not at all
            for i in range(len(self.chain) - 1, -1, -1):
                steps = self.chain[i:]
                if not all(
                    graph in self.sg.field_graphs(s.parent.name, s.node.name.value) for s in steps
                ):
                    break
                base = steps[0]
                if base.parent.name == self.root_type_name and self.root_fetches is not None:
                    start = self.root_fetches.get(graph)
                    if start is None:
                        start = self.root_fetches[graph] = self.new_fetch(graph, 0, (), True)
                    assert start.root is not None
                    return start, self._repeat_path(steps, parent, start, start.root)
                if self.sg.resolvable_keys(base.parent.name, graph):
                    try:
                        child, part = self.entity_part(
                            base.fetch,
                            base.parent,
                            base.node.name.value,
                            (graph,),
                            base.target,
                            base.path,
                        )
                    except PlanningError:
                        continue
                    return child, self._repeat_path(steps, parent, child, part.selection)
        return None

    def _repeat_path(
        self,
        steps: list[_Step],
        parent: GraphQLObjectType | GraphQLInterfaceType,
        fetch: Fetch,
        start: SelSet,
    ) -> SelSet:
        current = start
        for index, step in enumerate(steps):
            arguments = tuple(step.node.arguments or ())
            for arg in arguments:
                _variables_in(arg.value, fetch.variables)
            current.reserved.setdefault(step.key, step.node.name.value)
            sel = current.add(step.key, step.node.name.value, arguments, True)
            assert sel.selection is not None
            current = sel.selection
            runtime = steps[index + 1].parent if index + 1 < len(steps) else parent
            field_def = step.parent.fields.get(step.node.name.value)
            if field_def is not None and get_named_type(field_def.type) is not runtime:
                current.ensure_typename()
                current = current.fragment(runtime.name)
        return current

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
        in_graph = set(self.sg.possible_types(fetch.subgraph, named.name))
        if not in_graph and isinstance(named, GraphQLInterfaceType):
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

    # -- entity jumps ---------------------------------------------------------------------

    def has_direct_key(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        source: str,
        graphs: Iterable[str],
        provided: ProvidedTree | None = None,
    ) -> bool:
        """Whether one of ``graphs`` has a key for ``parent`` that ``source`` fills in itself."""
        return any(
            all(
                self._fills(parent, source, f, provided) for f in field_set_names(key.selection_set)
            )
            for graph in graphs
            for key in self.sg.resolvable_keys(parent.name, graph)
        )

    def choose_key(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        source: str,
        graphs: Iterable[str],
        path: tuple[str, ...],
        provided: ProvidedTree | None = None,
    ) -> tuple[str, KeyDef]:
        """Pick the target subgraph and the key the source subgraph can fill in."""
        ordered = sorted(
            graphs, key=lambda g: 0 if any(k[0] == path and k[1] == g for k in self.children) else 1
        )
        for graph in ordered:
            for key in self.sg.resolvable_keys(parent.name, graph):
                if all(
                    self._fills(parent, source, f, provided)
                    for f in field_set_names(key.selection_set)
                ):
                    return graph, key
        # No key the source can fill in itself: take one whose fields another subgraph can
        # provide (they are planned as an earlier entity jump, which delays this one).
        for graph in ordered:
            for key in self.sg.resolvable_keys(parent.name, graph):
                if all(
                    any(g != graph for g in self.sg.field_graphs(parent.name, f))
                    or source in self.sg.field_graphs(parent.name, f)
                    for f in field_set_names(key.selection_set)
                ):
                    return graph, key
        raise PlanningError(
            f"cannot reach {parent.name} in {', '.join(graphs)} from subgraph {source}"
        )

    def _fills(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        source: str,
        field_name: str,
        provided: ProvidedTree | None,
    ) -> bool:
        return source in self.sg.field_graphs(parent.name, field_name) or (
            provided is not None and field_name in provided
        )

    def ensure_field_set(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        selection_set: SelectionSetNode,
        fetch: Fetch,
        target: SelSet,
        path: tuple[str, ...],
        provided: ProvidedTree | None = None,
    ) -> tuple[list[RepField], int]:
        """Add key/required fields to the source selection; say where to read them back."""
        reps: list[RepField] = []
        stage = fetch.stage
        for sel in selection_set.selections:
            if not isinstance(sel, FieldNode):
                raise PlanningError("fragments in @key/@requires field sets are not supported")
            name = sel.name.value
            guard = (parent.name, name, fetch.id)
            if guard in self.filling:
                raise PlanningError(f"{parent.name}.{name} is needed to fetch itself")
            key = target.internal_key(name, tuple(sel.arguments or ()))
            node = FieldNode(
                alias=NameNode(value=key) if key != name else None,
                name=sel.name,
                arguments=sel.arguments,
                directives=(),
                selection_set=sel.selection_set,
            )
            self.made_nodes.append(node)
            self.gateway_nodes.add(id(node))
            if _has_fragments(sel.selection_set):
                self.verbatim.add(id(node))
            self.filling.add(guard)
            try:
                planned = self.plan_field(parent, key, [node], fetch, target, path, provided)
            finally:
                self.filling.discard(guard)
            stage = max(stage, planned)
            sub = None
            if sel.selection_set is not None:
                sub = tuple(_rep_fields(sel.selection_set))
            reps.append(RepField(name, key, sub))
        return reps, stage

    def entity_part(
        self,
        fetch: Fetch,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        field_name: str,
        graphs: tuple[str, ...],
        target: SelSet,
        path: tuple[str, ...],
        provided: ProvidedTree | None = None,
    ) -> tuple[Fetch, EntityPart]:
        graph, key = self.choose_key(parent, fetch.subgraph, graphs, path, provided)
        target.ensure_typename()
        key_reps, key_stage = self.ensure_field_set(
            parent, key.selection_set, fetch, target, path, provided
        )
        required_reps: list[RepField] = []
        stage = key_stage + 1
        join = self.sg.field_join(parent.name, field_name, graph)
        if join is not None and join.requires_selection is not None:
            required_reps, produced_at = self.ensure_field_set(
                parent, join.requires_selection, fetch, target, path
            )
            stage = max(stage, produced_at + 1)
        # The subgraph may know the object only as an @interfaceObject interface.
        entity = self.sg.entity_type(parent.name, graph)
        child = self.children.get((path, graph, stage))
        if child is not None:
            existing = child.entities.get(entity)
            if existing is not None and _conflicts(existing.rep, required_reps):
                child = None  # the same field required with other arguments: its own fetch
        if child is None:
            child = self.new_fetch(graph, stage, path, root=False)
            self.children.setdefault((path, graph, stage), child)
        if entity != parent.name:
            child.aliases[parent.name] = entity
        if isinstance(self.schema.get_type(entity), GraphQLInterfaceType):
            # Objects reaching this fetch may already carry their concrete __typename.
            for implementation in self.sg.implementations(entity):
                child.aliases.setdefault(implementation, entity)
        part = child.entities.get(entity)
        if part is None:
            rep = [RepField("__typename", "__typename"), *key_reps]
            part = child.entities[entity] = EntityPart(
                selection=SelSet(
                    reserved=target.reserved,
                    echoes=frozenset(r.name for r in key_reps if r.sub is None),
                ),
                rep=rep,
            )
        known = {r.name for r in part.rep}
        part.rep.extend(r for r in required_reps if r.name not in known)
        return child, part


def _selection_size(selection: SelSet) -> int:
    size = len(selection.fields)
    for sel in selection.fields.values():
        if sel.selection is not None:
            size += _selection_size(sel.selection)
    return size + sum(_selection_size(frag) for frag in selection.fragments.values())


def _conflicts(existing: list[RepField], wanted: list[RepField]) -> bool:
    keys = {r.name: r.key for r in existing}
    return any(r.name in keys and keys[r.name] != r.key for r in wanted)


def _rep_fields(selection_set: SelectionSetNode, optional: bool = False) -> list[RepField]:
    out: list[RepField] = []
    seen: set[str] = set()

    def add(field: RepField) -> None:
        if field.name not in seen:
            seen.add(field.name)
            out.append(field)

    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            sub = tuple(_rep_fields(sel.selection_set)) if sel.selection_set else None
            add(RepField(sel.name.value, sel.name.value, sub, optional))
        elif isinstance(sel, InlineFragmentNode):
            # Fields of a type condition: copied when the object has them.
            add(RepField("__typename", "__typename", None, True))
            for inner in _rep_fields(sel.selection_set, True):
                add(inner)
    return out


def _has_fragments(selection_set: SelectionSetNode | None) -> bool:
    if selection_set is None:
        return False
    return any(
        isinstance(sel, InlineFragmentNode)
        or (isinstance(sel, FieldNode) and _has_fragments(sel.selection_set))
        for sel in selection_set.selections
    )


def _copy_selection(selection_set: SelectionSetNode, into: SelSet) -> None:
    """A required field set verbatim (it is valid in the subgraph that declared it, even
    for types hidden from the API schema), with ``__typename`` at every level."""
    into.ensure_typename()
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            composite = sel.selection_set is not None
            field = into.add(sel.name.value, sel.name.value, tuple(sel.arguments or ()), composite)
            if sel.selection_set is not None and field.selection is not None:
                _copy_selection(sel.selection_set, field.selection)
        elif isinstance(sel, InlineFragmentNode):
            if sel.type_condition is None:
                _copy_selection(sel.selection_set, into)
            else:
                _copy_selection(sel.selection_set, into.fragment(sel.type_condition.name.value))


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
            interface_object_paths=frozenset(builder.interface_object_paths),
            operation_name=operation.name.value if operation.name else None,
            phases=phases,
            variable_definitions={
                v.variable.name.value: v for v in operation.variable_definitions or ()
            },
        )
