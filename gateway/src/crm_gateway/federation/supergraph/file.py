"""Reading a join-spec supergraph (``SUPERGRAPH_FILE``) into the `Supergraph` model.

Accepts what ``@theguild/federation-composition`` and Apollo composition print (join v0.1 to
v0.5, link v1.0, renamed spec prefixes via ``@link(as:)``). Only the execution-relevant parts
are read: graphs and URLs, ``@join__type`` (keys, extension, resolvable, interface objects),
``@join__field`` (external, requires, provides, override, subgraph type), ``@join__implements``,
``@join__unionMember``, ``@join__enumValue`` and ``@inaccessible``.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    BooleanValueNode,
    ConstDirectiveNode,
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumValueNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    SchemaDefinitionNode,
    StringValueNode,
    UnionTypeDefinitionNode,
    ValueNode,
    parse,
    print_ast,
)

from crm_gateway.federation.supergraph.composition import BUILTIN_SCALARS, CompositionError
from crm_gateway.federation.supergraph.model import (
    ENUM,
    INPUT_OBJECT,
    INTERFACE,
    OBJECT,
    ROOT_OPERATION_TYPES,
    SCALAR,
    UNION,
    ArgumentDef,
    EnumValueDef,
    FieldDef,
    FieldJoin,
    KeyDef,
    Subgraph,
    Supergraph,
    TypeDef,
    TypeJoin,
)

_KINDS: dict[type, str] = {
    ObjectTypeDefinitionNode: OBJECT,
    InterfaceTypeDefinitionNode: INTERFACE,
    UnionTypeDefinitionNode: UNION,
    EnumTypeDefinitionNode: ENUM,
    InputObjectTypeDefinitionNode: INPUT_OBJECT,
    ScalarTypeDefinitionNode: SCALAR,
}


def _args(node: ConstDirectiveNode) -> dict[str, ValueNode]:
    return {a.name.value: a.value for a in node.arguments or ()}


def _str(value: ValueNode | None) -> str | None:
    return value.value if isinstance(value, StringValueNode) else None


def _bool(value: ValueNode | None, default: bool = False) -> bool:
    return value.value if isinstance(value, BooleanValueNode) else default


def _enum(value: ValueNode | None) -> str | None:
    return value.value if isinstance(value, EnumValueNode) else None


def _desc(node: Any) -> str | None:
    description = getattr(node, "description", None)
    return description.value if description is not None else None


class _Names:
    """Local names of the join/inaccessible directives (``@link(as:)`` may rename them)."""

    def __init__(self, document: DocumentNode) -> None:
        self.join = "join"
        self.inaccessible = "inaccessible"
        found_join = False
        for definition in document.definitions:
            if not isinstance(definition, SchemaDefinitionNode):
                continue
            for directive in definition.directives or ():
                if directive.name.value not in ("link", "core"):
                    continue
                args = _args(directive)
                url = _str(args.get("url")) or _str(args.get("feature")) or ""
                alias = _str(args.get("as"))
                if "/join/" in url:
                    found_join = True
                    self.join = alias or "join"
                elif "/inaccessible/" in url:
                    self.inaccessible = alias or "inaccessible"
        if not found_join:
            raise CompositionError("SUPERGRAPH_FILE has no @link to the join spec")

    def j(self, name: str) -> str:
        return f"{self.join}__{name}"


def parse_supergraph(sdl: str) -> Supergraph:
    """Build the model from a supergraph SDL; raises `CompositionError` on anything unusable."""
    try:
        document = parse(sdl, no_location=True)
    except Exception as exc:  # GraphQLSyntaxError
        raise CompositionError(f"SUPERGRAPH_FILE is not valid GraphQL: {exc}") from exc
    names = _Names(document)
    graph_enum_name = names.j("Graph")
    subgraphs: dict[str, Subgraph] = {}
    enum_to_graph: dict[str, str] = {}
    root_types: dict[str, str] = {}
    for definition in document.definitions:
        if isinstance(definition, EnumTypeDefinitionNode) and definition.name.value == (
            graph_enum_name
        ):
            for value in definition.values or ():
                for directive in value.directives or ():
                    if directive.name.value == names.j("graph"):
                        args = _args(directive)
                        name = _str(args.get("name")) or value.name.value.lower()
                        subgraphs[name] = Subgraph(name, _str(args.get("url")) or "")
                        enum_to_graph[value.name.value] = name
        elif isinstance(definition, SchemaDefinitionNode):
            for op in definition.operation_types:
                root_types[op.operation.value] = op.type.name.value
    if not subgraphs:
        raise CompositionError(f"SUPERGRAPH_FILE has no {graph_enum_name} enum with graphs")
    root_types = root_types or {"query": "Query"}
    renames = {
        name: ROOT_OPERATION_TYPES[op]
        for op, name in root_types.items()
        if name != ROOT_OPERATION_TYPES[op]
    }
    reader = _Reader(names, enum_to_graph, renames)
    types: dict[str, TypeDef] = {}
    for definition in document.definitions:
        kind = _KINDS.get(type(definition))
        if kind is None or isinstance(definition, DirectiveDefinitionNode):
            continue
        type_name = definition.name.value  # type: ignore[attr-defined]
        if type_name.startswith(("link__", "join__", "core__", f"{names.join}__")):
            continue
        if type_name in BUILTIN_SCALARS:
            continue
        type_def = reader.type_def(definition, kind)
        types[type_def.name] = type_def
    roots = {
        op: renames.get(name, name)
        for op, name in root_types.items()
        if renames.get(name, name) in types
    }
    if "query" not in roots:
        raise CompositionError("SUPERGRAPH_FILE has no query root type")
    return Supergraph(subgraphs=subgraphs, types=types, root_types=roots)


class _Reader:
    def __init__(
        self, names: _Names, enum_to_graph: dict[str, str], renames: dict[str, str]
    ) -> None:
        self.names = names
        self.enum_to_graph = enum_to_graph
        self.renames = renames

    def graph(self, args: dict[str, ValueNode]) -> str | None:
        value = _enum(args.get("graph"))
        return None if value is None else self.enum_to_graph.get(value)

    def directives(self, node: Any, local: str) -> list[dict[str, ValueNode]]:
        return [_args(d) for d in node.directives or () if d.name.value == local]

    def inaccessible(self, node: Any) -> bool:
        return bool(self.directives(node, self.names.inaccessible))

    @staticmethod
    def deprecation(node: Any) -> str | None:
        for directive in node.directives or ():
            if directive.name.value == "deprecated":
                return _str(_args(directive).get("reason")) or "No longer supported"
        return None

    def type_def(self, node: Any, kind: str) -> TypeDef:
        name = self.renames.get(node.name.value, node.name.value)
        type_def = TypeDef(
            name=name, kind=kind, description=_desc(node), inaccessible=self.inaccessible(node)
        )
        for args in self.directives(node, self.names.j("type")):
            graph = self.graph(args)
            if graph is None:
                continue
            join = type_def.joins.setdefault(graph, TypeJoin())
            join.extension = join.extension or _bool(args.get("extension"))
            join.is_interface_object = join.is_interface_object or _bool(
                args.get("isInterfaceObject")
            )
            key = _str(args.get("key"))
            if key:
                join.keys.append(KeyDef(key, resolvable=_bool(args.get("resolvable"), True)))
        for directive in node.directives or ():
            if directive.name.value == "specifiedBy":
                type_def.specified_by = _str(_args(directive).get("url"))
        for args in self.directives(node, self.names.j("implements")):
            graph, iface = self.graph(args), _str(args.get("interface"))
            if graph and iface:
                type_def.interfaces.setdefault(iface, set()).add(graph)
        if not type_def.interfaces and kind in (OBJECT, INTERFACE):
            # join v0.1 has no @join__implements: every graph of the type implements them.
            for iface_node in node.interfaces or ():
                type_def.interfaces[iface_node.name.value] = set(type_def.joins)
        if kind == UNION:
            members = self.directives(node, self.names.j("unionMember"))
            for args in members:
                graph, member = self.graph(args), _str(args.get("member"))
                if graph and member:
                    type_def.members.setdefault(member, set()).add(graph)
            if not members:
                for member_node in node.types or ():
                    type_def.members[member_node.name.value] = set(type_def.joins)
        elif kind == ENUM:
            for value in node.values or ():
                graphs = {
                    g
                    for a in self.directives(value, self.names.j("enumValue"))
                    if (g := self.graph(a)) is not None
                }
                type_def.values[value.name.value] = EnumValueDef(
                    name=value.name.value,
                    graphs=graphs or set(type_def.joins),
                    description=_desc(value),
                    deprecation=self.deprecation(value),
                    inaccessible=self.inaccessible(value),
                )
        elif kind in (OBJECT, INTERFACE, INPUT_OBJECT):
            for field_node in node.fields or ():
                field_def = self.field_def(type_def, field_node, kind == INPUT_OBJECT)
                type_def.fields[field_def.name] = field_def
        return type_def

    def field_def(self, type_def: TypeDef, node: Any, is_input: bool) -> FieldDef:
        field_type = print_ast(node.type)
        field_def = FieldDef(
            name=node.name.value,
            type=field_type,
            description=_desc(node),
            deprecation=self.deprecation(node),
            inaccessible=self.inaccessible(node),
        )
        if is_input:
            field_def.default = print_ast(node.default_value) if node.default_value else None
        for arg in getattr(node, "arguments", None) or ():
            field_def.arguments[arg.name.value] = ArgumentDef(
                name=arg.name.value,
                type=print_ast(arg.type),
                default=print_ast(arg.default_value) if arg.default_value else None,
                description=_desc(arg),
                deprecation=self.deprecation(arg),
                inaccessible=self.inaccessible(arg),
            )
        field_joins = self.directives(node, self.names.j("field"))
        with_graph = [a for a in field_joins if self.graph(a) is not None]
        if not field_joins:
            # No @join__field: every graph that defines the type resolves the field.
            for graph in type_def.joins:
                field_def.joins[graph] = FieldJoin(type=field_type)
            return field_def
        for args in with_graph:
            joined = self.graph(args)
            assert joined is not None
            override_label = _str(args.get("overrideLabel"))
            field_def.joins[joined] = FieldJoin(
                type=_str(args.get("type")) or field_type,
                external=_bool(args.get("external")),
                requires=_str(args.get("requires")),
                provides=_str(args.get("provides")),
                # Progressive override (a label): the original owner keeps serving it.
                override=None if override_label else _str(args.get("override")),
                overridden=_bool(args.get("usedOverridden")),
            )
        return field_def
