"""Composition: subgraph SDLs (Federation v2, ``_service { sdl }``) -> `Supergraph`.

This is a pragmatic composer for the gateway's own use: it merges types and records, per
subgraph, keys, external/requires/provides/shareable/override and @inaccessible. It does not
run the full set of Federation composition validations (satisfiability etc.); the standard
composer checks those in CI (`make supergraph-check`, see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from graphql import (
    BooleanValueNode,
    ConstDirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    EnumValueDefinitionNode,
    FieldDefinitionNode,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ObjectValueNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    TypeNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    ValueNode,
    parse,
    print_ast,
)

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
    field_set_names,
)

log = logging.getLogger(__name__)

FEDERATION_DIRECTIVES = (
    "key",
    "external",
    "requires",
    "provides",
    "shareable",
    "inaccessible",
    "override",
    "extends",
    "tag",
    "interfaceObject",
    "composeDirective",
    "authenticated",
    "requiresScopes",
    "policy",
    "context",
    "fromContext",
    "cost",
    "listSize",
)
INTERNAL_TYPES = frozenset(
    {"_Any", "_Entity", "_Service", "_FieldSet", "FieldSet", "link__Import", "link__Purpose"}
)
INTERNAL_ROOT_FIELDS = frozenset({"_entities", "_service"})
BUILTIN_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})

SDL_QUERY = "query __ServiceSDL { _service { sdl } }"


class CompositionError(Exception):
    """The subgraph schemas cannot be merged into one supergraph."""


# -- federation directive names per subgraph (``@link(import: [...])``) -----------------------


def _directive_names(document: DocumentNode) -> dict[str, str]:
    """Map local directive names to canonical federation names (``key``, ``external``...)."""
    local_to_canonical: dict[str, str] = {}
    links: list[ConstDirectiveNode] = []
    for definition in document.definitions:
        if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            links.extend(d for d in definition.directives or () if d.name.value == "link")
    federation_link = None
    for link in links:
        args = {a.name.value: a.value for a in link.arguments or ()}
        url = args.get("url")
        if isinstance(url, StringValueNode) and "specs.apollo.dev/federation/" in url.value:
            federation_link = args
    if federation_link is None:
        # Federation 1 style: directives used by their plain names.
        return {name: name for name in FEDERATION_DIRECTIVES}
    prefix = "federation__"
    alias = federation_link.get("as")
    if isinstance(alias, StringValueNode):
        prefix = alias.value + "__"
    for name in FEDERATION_DIRECTIVES:
        local_to_canonical[prefix + name] = name
    imports = federation_link.get("import")
    if isinstance(imports, ListValueNode):
        for item in imports.values:
            if isinstance(item, StringValueNode):
                name = item.value.lstrip("@")
                local_to_canonical[name] = name
            elif isinstance(item, ObjectValueNode):
                fields = {f.name.value: f.value for f in item.fields}
                name_node, as_node = fields.get("name"), fields.get("as")
                if isinstance(name_node, StringValueNode):
                    name = name_node.value.lstrip("@")
                    local = (
                        as_node.value.lstrip("@") if isinstance(as_node, StringValueNode) else name
                    )
                    local_to_canonical[local] = name
    return local_to_canonical


@dataclass(slots=True)
class _Directives:
    """Federation directives found on one schema element, by canonical name."""

    found: dict[str, list[dict[str, ValueNode]]] = field(default_factory=dict)
    deprecation: str | None = None
    specified_by: str | None = None

    def has(self, name: str) -> bool:
        return name in self.found

    def first_string(self, name: str, arg: str) -> str | None:
        for args in self.found.get(name, ()):
            value = args.get(arg)
            if isinstance(value, StringValueNode):
                return value.value
        return None


def _read_directives(
    nodes: tuple[ConstDirectiveNode, ...] | None, names: Mapping[str, str]
) -> _Directives:
    out = _Directives()
    for node in nodes or ():
        local = node.name.value
        args: dict[str, ValueNode] = {a.name.value: a.value for a in node.arguments or ()}
        if local == "deprecated":
            reason = args.get("reason")
            out.deprecation = (
                reason.value if isinstance(reason, StringValueNode) else "No longer supported"
            )
        elif local == "specifiedBy":
            url = args.get("url")
            out.specified_by = url.value if isinstance(url, StringValueNode) else None
        elif local in names:
            out.found.setdefault(names[local], []).append(args)
    return out


def _type_str(node: TypeNode) -> str:
    return print_ast(node)


def _desc(node: Any) -> str | None:
    description = getattr(node, "description", None)
    return description.value if description is not None else None


def _merge_output_type(a: str, b: str) -> str:
    """The supergraph type of a field two subgraphs type differently: the less strict one."""
    if a == b:
        return a
    na = parse(f"type X {{ f: {a} }}", no_location=True)
    nb = parse(f"type X {{ f: {b} }}", no_location=True)

    def node_of(doc: DocumentNode) -> TypeNode:
        definition = doc.definitions[0]
        assert isinstance(definition, ObjectTypeDefinitionNode)
        return definition.fields[0].type

    def merge(x: TypeNode, y: TypeNode) -> str:
        if isinstance(x, NonNullTypeNode) and isinstance(y, NonNullTypeNode):
            return merge(x.type, y.type) + "!"
        if isinstance(x, NonNullTypeNode):
            return merge(x.type, y)
        if isinstance(y, NonNullTypeNode):
            return merge(x, y.type)
        if isinstance(x, ListTypeNode) and isinstance(y, ListTypeNode):
            return "[" + merge(x.type, y.type) + "]"
        if isinstance(x, NamedTypeNode) and isinstance(y, NamedTypeNode):
            if x.name.value != y.name.value:
                raise CompositionError(f"incompatible field types {a} and {b}")
            return x.name.value
        raise CompositionError(f"incompatible field types {a} and {b}")

    return merge(node_of(na), node_of(nb))


# -- the composer -------------------------------------------------------------------------


class _Composer:
    def __init__(self, subgraphs: Mapping[str, Subgraph]) -> None:
        self.subgraphs = dict(subgraphs)
        self.types: dict[str, TypeDef] = {}
        self.root_types: dict[str, str] = {}
        # input-type fields seen per subgraph, to intersect afterwards
        self.input_fields: dict[str, list[set[str]]] = {}
        self.overrides: list[tuple[str, str, str, str]] = []  # type, field, from, to

    def add(self, graph: str, sdl: str) -> None:
        document = parse(sdl, no_location=True)
        names = _directive_names(document)
        renames = self._root_renames(document)
        for definition in document.definitions:
            type_name = getattr(getattr(definition, "name", None), "value", None)
            if type_name is None or type_name in INTERNAL_TYPES:
                continue
            if type_name.startswith(("link__", "federation__", "join__")):
                continue
            type_name = renames.get(type_name, type_name)
            self._add_definition(graph, type_name, definition, names)

    @staticmethod
    def _root_renames(document: DocumentNode) -> dict[str, str]:
        renames: dict[str, str] = {}
        for definition in document.definitions:
            if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
                for op in definition.operation_types or ():
                    canonical = ROOT_OPERATION_TYPES[op.operation.value]
                    if op.type.name.value != canonical:
                        renames[op.type.name.value] = canonical
        return renames

    def _type(self, name: str, kind: str, node: Any) -> TypeDef:
        type_def = self.types.get(name)
        if type_def is None:
            type_def = TypeDef(name=name, kind=kind, description=_desc(node))
            self.types[name] = type_def
        elif type_def.kind != kind:
            raise CompositionError(f"type {name} is a {type_def.kind} and a {kind}")
        elif type_def.description is None:
            type_def.description = _desc(node)
        return type_def

    def _add_definition(self, graph: str, name: str, node: Any, names: Mapping[str, str]) -> None:
        directives = _read_directives(node.directives, names)
        if isinstance(node, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            kind = OBJECT
        elif isinstance(node, InterfaceTypeDefinitionNode | InterfaceTypeExtensionNode):
            kind = INTERFACE
        elif isinstance(node, UnionTypeDefinitionNode | UnionTypeExtensionNode):
            kind = UNION
        elif isinstance(node, EnumTypeDefinitionNode | EnumTypeExtensionNode):
            kind = ENUM
        elif isinstance(node, InputObjectTypeDefinitionNode | InputObjectTypeExtensionNode):
            kind = INPUT_OBJECT
        elif isinstance(node, ScalarTypeDefinitionNode | ScalarTypeExtensionNode):
            kind = SCALAR
        else:
            return  # directive definitions: federation/link ones are dropped
        type_def = self._type(name, kind, node)
        join = type_def.joins.setdefault(graph, TypeJoin())
        extension = isinstance(
            node, ObjectTypeExtensionNode | InterfaceTypeExtensionNode
        ) or directives.has("extends")
        join.extension = join.extension or extension
        join.is_interface_object = join.is_interface_object or directives.has("interfaceObject")
        if directives.has("inaccessible"):
            type_def.inaccessible = True
        if directives.specified_by:
            type_def.specified_by = directives.specified_by
        for args in directives.found.get("key", ()):
            fields_node = args.get("fields")
            resolvable_node = args.get("resolvable")
            if not isinstance(fields_node, StringValueNode):
                raise CompositionError(f"@key on {name} in {graph} has no fields")
            resolvable = not (
                isinstance(resolvable_node, BooleanValueNode) and not resolvable_node.value
            )
            join.keys.append(KeyDef(fields=fields_node.value, resolvable=resolvable))
        type_shareable = directives.has("shareable")
        if kind in (OBJECT, INTERFACE):
            for iface in node.interfaces or ():
                type_def.interfaces.setdefault(iface.name.value, set()).add(graph)
            for field_node in node.fields or ():
                if (
                    kind == OBJECT
                    and name == "Query"
                    and field_node.name.value in (INTERNAL_ROOT_FIELDS)
                ):
                    continue
                self._add_field(graph, type_def, field_node, names, type_shareable, extension)
        elif kind == INPUT_OBJECT:
            seen = set()
            for field_node in node.fields or ():
                seen.add(field_node.name.value)
                self._add_input_field(graph, type_def, field_node, names)
            self.input_fields.setdefault(name, []).append(seen)
        elif kind == UNION:
            for member in node.types or ():
                type_def.members.setdefault(member.name.value, set()).add(graph)
        elif kind == ENUM:
            for value_node in node.values or ():
                self._add_enum_value(graph, type_def, value_node, names)

    def _add_field(
        self,
        graph: str,
        type_def: TypeDef,
        node: FieldDefinitionNode,
        names: Mapping[str, str],
        type_shareable: bool,
        extension: bool,
    ) -> None:
        directives = _read_directives(node.directives, names)
        field_type = _type_str(node.type)
        field_def = type_def.fields.get(node.name.value)
        external = directives.has("external")
        if field_def is None:
            field_def = FieldDef(
                name=node.name.value,
                type=field_type,
                description=_desc(node),
                deprecation=directives.deprecation,
            )
            for arg in node.arguments or ():
                field_def.arguments[arg.name.value] = self._argument(arg, names)
            type_def.fields[field_def.name] = field_def
        else:
            if not external:
                field_def.type = _merge_output_type(field_def.type, field_type)
            # Arguments: keep those every defining subgraph declares.
            declared = {a.name.value for a in node.arguments or ()}
            for arg_name in list(field_def.arguments):
                if arg_name not in declared:
                    del field_def.arguments[arg_name]
            field_def.description = field_def.description or _desc(node)
            field_def.deprecation = field_def.deprecation or directives.deprecation
        if directives.has("inaccessible"):
            field_def.inaccessible = True
        override = directives.first_string("override", "from")
        if override:
            self.overrides.append((type_def.name, field_def.name, override, graph))
        field_def.joins[graph] = FieldJoin(
            type=field_type,
            external=external,
            requires=directives.first_string("requires", "fields"),
            provides=directives.first_string("provides", "fields"),
            override=override,
            shareable=type_shareable or directives.has("shareable"),
        )

    def _argument(self, node: InputValueDefinitionNode, names: Mapping[str, str]) -> ArgumentDef:
        directives = _read_directives(node.directives, names)
        return ArgumentDef(
            name=node.name.value,
            type=_type_str(node.type),
            default=print_ast(node.default_value) if node.default_value else None,
            description=_desc(node),
            deprecation=directives.deprecation,
            inaccessible=directives.has("inaccessible"),
        )

    def _add_input_field(
        self,
        graph: str,
        type_def: TypeDef,
        node: InputValueDefinitionNode,
        names: Mapping[str, str],
    ) -> None:
        directives = _read_directives(node.directives, names)
        field_def = type_def.fields.get(node.name.value)
        if field_def is None:
            field_def = FieldDef(
                name=node.name.value,
                type=_type_str(node.type),
                description=_desc(node),
                deprecation=directives.deprecation,
                default=print_ast(node.default_value) if node.default_value else None,
            )
            type_def.fields[field_def.name] = field_def
        elif _type_str(node.type).endswith("!") and not field_def.type.endswith("!"):
            field_def.type = _type_str(node.type)  # inputs: the stricter type wins
        if directives.has("inaccessible"):
            field_def.inaccessible = True
        field_def.joins[graph] = FieldJoin(type=_type_str(node.type))

    def _add_enum_value(
        self,
        graph: str,
        type_def: TypeDef,
        node: EnumValueDefinitionNode,
        names: Mapping[str, str],
    ) -> None:
        directives = _read_directives(node.directives, names)
        value = type_def.values.setdefault(
            node.name.value, EnumValueDef(name=node.name.value, description=_desc(node))
        )
        value.graphs.add(graph)
        value.deprecation = value.deprecation or directives.deprecation
        if directives.has("inaccessible"):
            value.inaccessible = True

    def finish(self) -> Supergraph:
        for type_name, field_name, source, target in self.overrides:
            join = self.types[type_name].fields[field_name].joins.get(source)
            if join is not None and source != target:
                join.overridden = True
        for type_name, seen_lists in self.input_fields.items():
            common = set.intersection(*seen_lists)
            type_def = self.types[type_name]
            type_def.fields = {k: v for k, v in type_def.fields.items() if k in common}
        if "Query" not in self.types:
            raise CompositionError("no subgraph defines a Query type")
        self._check_fields_resolvable()
        for op, name in ROOT_OPERATION_TYPES.items():
            if name in self.types:
                self.root_types[op] = name
        for scalar in BUILTIN_SCALARS:
            self.types.pop(scalar, None)
        # Stable order: Query and Mutation first, then the rest as discovered.
        return Supergraph(subgraphs=self.subgraphs, types=self.types, root_types=self.root_types)

    def _check_fields_resolvable(self) -> None:
        for type_def in self.types.values():
            if type_def.kind not in (OBJECT,):
                continue
            for field_def in type_def.fields.values():
                if all(j.external for j in field_def.joins.values()) and not any(
                    field_def.name in field_set_names(k.selection_set)
                    for j in type_def.joins.values()
                    for k in j.keys
                ):
                    raise CompositionError(
                        f"{type_def.name}.{field_def.name} is external in every subgraph"
                    )


def compose(sdls: Mapping[str, tuple[str, str]]) -> Supergraph:
    """Compose ``{name: (url, sdl)}`` (order = preference when several subgraphs can serve)."""
    composer = _Composer({name: Subgraph(name, url) for name, (url, _sdl) in sdls.items()})
    for name, (_url, sdl) in sdls.items():
        try:
            composer.add(name, sdl)
        except CompositionError:
            raise
        except Exception as exc:  # a GraphQL syntax error in one SDL
            raise CompositionError(f"subgraph {name}: {exc}") from exc
    return composer.finish()


# -- fetching the SDLs at start-up ------------------------------------------------------------


async def fetch_sdl(session: aiohttp.ClientSession, url: str, timeout_s: float = 10.0) -> str:
    """One ``_service { sdl }`` round trip (no token needed for this query)."""
    async with session.post(
        url,
        json={"query": SDL_QUERY},
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    ) as response:
        body = await response.json(content_type=None)
    if not isinstance(body, dict) or body.get("errors") or not body.get("data"):
        raise CompositionError(f"{url} did not answer _service {{ sdl }}")
    sdl = body["data"]["_service"]["sdl"]
    if not isinstance(sdl, str):
        raise CompositionError(f"{url} returned no SDL")
    return sdl


async def load_sdls(
    session: aiohttp.ClientSession,
    subgraphs: Mapping[str, str],
    *,
    wait_s: float,
    initial_delay_s: float = 0.2,
    max_delay_s: float = 5.0,
    replicas: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, tuple[str, str]]:
    """Fetch every subgraph's SDL, retrying with backoff while some are not up yet.

    ``replicas``: more URLs of a subgraph (same SDL); each round asks the next one, so one
    replica that is down does not hold up composition. The result names the first URL."""
    deadline = time.monotonic() + wait_s
    result: dict[str, tuple[str, str]] = {}
    delay = initial_delay_s
    round_ = 0
    while True:
        missing = [name for name in subgraphs if name not in result]
        answers = await asyncio.gather(
            *(
                fetch_sdl(session, _nth_url(subgraphs[name], (replicas or {}).get(name), round_))
                for name in missing
            ),
            return_exceptions=True,
        )
        round_ += 1
        for name, answer in zip(missing, answers, strict=True):
            if isinstance(answer, str):
                result[name] = (subgraphs[name], answer)
            else:
                log.info("subgraph %s not ready: %s", name, type(answer).__name__)
        if len(result) == len(subgraphs):
            return {name: result[name] for name in subgraphs}
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            missing = [name for name in subgraphs if name not in result]
            raise CompositionError(f"subgraphs not reachable: {', '.join(missing)}")
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay_s)


def _nth_url(url: str, replicas: Sequence[str] | None, n: int) -> str:
    return replicas[n % len(replicas)] if replicas else url
