"""The composed supergraph: which subgraph can resolve what.

The model mirrors the join spec (``join__type``, ``join__field``, ``join__implements``,
``join__unionMember``, ``join__enumValue``) so that a printed join-spec supergraph file can
later be parsed into the same structures. The planner only reads this model and the
client-facing API schema built from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from graphql import (
    FieldNode,
    GraphQLSchema,
    SelectionSetNode,
    build_schema,
    parse,
)
from graphql.language import OperationDefinitionNode

OBJECT = "OBJECT"
INTERFACE = "INTERFACE"
UNION = "UNION"
ENUM = "ENUM"
INPUT_OBJECT = "INPUT_OBJECT"
SCALAR = "SCALAR"

ROOT_OPERATION_TYPES = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}


def parse_field_set(fields: str) -> SelectionSetNode:
    """Parse a federation ``FieldSet`` string (``"id"``, ``"id org { id }"``)."""
    document = parse("{" + fields + "}", no_location=True)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.selection_set


def field_set_names(selection_set: SelectionSetNode) -> list[str]:
    """Top-level field names of a parsed field set."""
    return [s.name.value for s in selection_set.selections if isinstance(s, FieldNode)]


@dataclass(frozen=True, slots=True)
class Subgraph:
    """One subgraph service: its name (from GATEWAY_SUBGRAPHS) and GraphQL endpoint."""

    name: str
    url: str

    @property
    def enum_value(self) -> str:
        """The ``join__Graph`` enum value naming this subgraph in a supergraph file."""
        out = "".join(c if c.isalnum() else "_" for c in self.name).upper()
        return out if not out[:1].isdigit() else "_" + out


@dataclass
class KeyDef:
    """One ``@key`` of an entity in one subgraph."""

    fields: str
    resolvable: bool = True

    @cached_property
    def selection_set(self) -> SelectionSetNode:
        return parse_field_set(self.fields)


@dataclass(slots=True)
class TypeJoin:
    """``join__type``: a type as one subgraph defines it."""

    keys: list[KeyDef] = field(default_factory=list)
    extension: bool = False
    is_interface_object: bool = False


@dataclass
class FieldJoin:
    """``join__field``: a field as one subgraph defines it."""

    type: str
    external: bool = False
    requires: str | None = None
    provides: str | None = None
    override: str | None = None
    shareable: bool = False
    overridden: bool = False

    @cached_property
    def requires_selection(self) -> SelectionSetNode | None:
        return parse_field_set(self.requires) if self.requires else None

    @cached_property
    def provides_selection(self) -> SelectionSetNode | None:
        return parse_field_set(self.provides) if self.provides else None


@dataclass(slots=True)
class ArgumentDef:
    name: str
    type: str
    default: str | None = None
    description: str | None = None
    deprecation: str | None = None
    inaccessible: bool = False


@dataclass(slots=True)
class FieldDef:
    """A field of an object, interface or input type in the supergraph."""

    name: str
    type: str
    arguments: dict[str, ArgumentDef] = field(default_factory=dict)
    description: str | None = None
    deprecation: str | None = None
    inaccessible: bool = False
    default: str | None = None  # input fields only
    joins: dict[str, FieldJoin] = field(default_factory=dict)


@dataclass(slots=True)
class EnumValueDef:
    name: str
    graphs: set[str] = field(default_factory=set)
    description: str | None = None
    deprecation: str | None = None
    inaccessible: bool = False


@dataclass(slots=True)
class TypeDef:
    """A named type of the supergraph with, per subgraph, how that subgraph defines it."""

    name: str
    kind: str
    description: str | None = None
    inaccessible: bool = False
    joins: dict[str, TypeJoin] = field(default_factory=dict)
    fields: dict[str, FieldDef] = field(default_factory=dict)
    interfaces: dict[str, set[str]] = field(default_factory=dict)  # name -> graphs
    members: dict[str, set[str]] = field(default_factory=dict)  # union member -> graphs
    values: dict[str, EnumValueDef] = field(default_factory=dict)
    specified_by: str | None = None


@dataclass(slots=True)
class Supergraph:
    """The composition result: subgraphs, merged types and their join information."""

    subgraphs: dict[str, Subgraph]
    types: dict[str, TypeDef]
    root_types: dict[str, str]  # operation ("query"/"mutation") -> type name
    _resolvers: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    _api_schema: GraphQLSchema | None = None

    # -- queries used by the planner ------------------------------------------------------

    def field_graphs(self, type_name: str, field_name: str) -> tuple[str, ...]:
        """Subgraphs that can resolve ``type.field`` themselves (not external, not overridden)."""
        cache_key = (type_name, field_name)
        cached = self._resolvers.get(cache_key)
        if cached is not None:
            return cached
        type_def = self.types.get(type_name)
        result: tuple[str, ...] = ()
        if type_def is not None:
            field_def = type_def.fields.get(field_name)
            if field_def is not None:
                result = tuple(
                    graph
                    for graph, join in field_def.joins.items()
                    if (not join.external or self._is_key_field(type_def, graph, field_name))
                    and not join.overridden
                )
            if type_def.kind == OBJECT:
                # An @interfaceObject subgraph resolves the field for every implementation.
                extra = [
                    graph
                    for iface in type_def.interfaces
                    for graph in self._interface_object_graphs(iface, field_name)
                    if graph not in result
                ]
                result = result + tuple(dict.fromkeys(extra))
        self._resolvers[cache_key] = result
        return result

    def _interface_object_graphs(self, iface: str, field_name: str) -> list[str]:
        iface_def = self.types.get(iface)
        if iface_def is None or field_name not in iface_def.fields:
            return []
        joins = iface_def.fields[field_name].joins
        return [
            graph
            for graph, type_join in iface_def.joins.items()
            if type_join.is_interface_object
            and graph in joins
            and not joins[graph].external
            and not joins[graph].overridden
        ]

    def is_interface_object(self, graph: str, type_name: str) -> bool:
        """Whether ``graph`` declares the interface ``type_name`` as an ``@interfaceObject``."""
        type_def = self.types.get(type_name)
        join = None if type_def is None else type_def.joins.get(graph)
        return join is not None and join.is_interface_object

    def entity_type(self, type_name: str, graph: str) -> str:
        """The ``__typename`` ``graph`` knows an object of ``type_name`` by in ``_entities``.

        That is the type itself, or the interface ``graph`` declares as ``@interfaceObject``.
        """
        type_def = self.types.get(type_name)
        if type_def is None or graph in type_def.joins:
            return type_name
        for iface in type_def.interfaces:
            if self.is_interface_object(graph, iface):
                return iface
        return type_name

    def implementations(self, iface: str) -> list[str]:
        """Object types implementing ``iface`` in any subgraph."""
        return [t.name for t in self.types.values() if t.kind == OBJECT and iface in t.interfaces]

    def interface_owner(self, iface: str) -> str | None:
        """A subgraph that resolves the interface entity to its concrete type (a real @key)."""
        type_def = self.types.get(iface)
        if type_def is None:
            return None
        for graph, join in type_def.joins.items():
            if not join.is_interface_object and any(k.resolvable for k in join.keys):
                return graph
        return None

    def field_join(self, type_name: str, field_name: str, graph: str) -> FieldJoin | None:
        type_def = self.types.get(type_name)
        if type_def is None:
            return None
        field_def = type_def.fields.get(field_name)
        join = None if field_def is None else field_def.joins.get(graph)
        entity = self.entity_type(type_name, graph)
        if join is None and entity != type_name:
            return self.field_join(entity, field_name, graph)
        return join

    def resolvable_keys(self, type_name: str, graph: str) -> list[KeyDef]:
        """Keys through which ``graph`` can resolve ``type_name`` via ``_entities``."""
        type_def = self.types.get(type_name)
        if type_def is None:
            return []
        join = type_def.joins.get(graph)
        if join is None:
            entity = self.entity_type(type_name, graph)
            return [] if entity == type_name else self.resolvable_keys(entity, graph)
        return [k for k in join.keys if k.resolvable]

    def has_type(self, graph: str, type_name: str) -> bool:
        type_def = self.types.get(type_name)
        return type_def is not None and graph in type_def.joins

    def possible_types(self, graph: str, abstract_name: str) -> list[str]:
        """Object types ``graph`` may return for an interface or union, in its own view."""
        type_def = self.types.get(abstract_name)
        if type_def is None:
            return []
        if type_def.kind == UNION:
            return [m for m, graphs in type_def.members.items() if graph in graphs]
        return [
            t.name
            for t in self.types.values()
            if t.kind == OBJECT and graph in t.interfaces.get(abstract_name, set())
        ]

    @staticmethod
    def _is_key_field(type_def: TypeDef, graph: str, field_name: str) -> bool:
        join = type_def.joins.get(graph)
        if join is None or not join.extension:
            # Only a Fed-1 `extend type` marks its own keys @external and still resolves
            # them; elsewhere an @external key belongs to another subgraph.
            return False
        return any(field_name in field_set_names(k.selection_set) for k in join.keys)

    # -- the client-facing schema ---------------------------------------------------------

    @property
    def api_schema(self) -> GraphQLSchema:
        """The schema clients see: no federation internals, no @inaccessible elements."""
        if self._api_schema is None:
            from crm_gateway.federation.supergraph.printer import print_api_schema

            self._api_schema = build_schema(print_api_schema(self))
        return self._api_schema
