"""Printing the supergraph model: the client API SDL and a join-spec supergraph file."""

from __future__ import annotations

import json
from collections.abc import Iterable

from crm_gateway.federation.supergraph.model import (
    ENUM,
    INPUT_OBJECT,
    INTERFACE,
    OBJECT,
    SCALAR,
    UNION,
    ArgumentDef,
    FieldDef,
    Supergraph,
    TypeDef,
)

BUILTIN_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})


def named_type(type_ref: str) -> str:
    """``[Customer!]!`` -> ``Customer``."""
    return type_ref.replace("[", "").replace("]", "").replace("!", "").strip()


def _desc(description: str | None, indent: str = "") -> str:
    if not description:
        return ""
    return f"{indent}{json.dumps(description, ensure_ascii=False)}\n"


def _deprecated(reason: str | None) -> str:
    if reason is None:
        return ""
    if reason == "No longer supported":
        return " @deprecated"
    return f" @deprecated(reason: {json.dumps(reason, ensure_ascii=False)})"


class _Printer:
    """Shared walk over the model; ``supergraph=True`` adds join directives."""

    def __init__(self, model: Supergraph, *, supergraph: bool) -> None:
        self.model = model
        self.supergraph = supergraph
        self.graph_enum = {name: sg.enum_value for name, sg in model.subgraphs.items()}

    def visible(self, type_name: str) -> bool:
        if type_name in BUILTIN_SCALARS:
            return True
        type_def = self.model.types.get(type_name)
        return type_def is not None and (self.supergraph or not type_def.inaccessible)

    def print(self) -> str:
        parts: list[str] = []
        if self.supergraph:
            parts.append(self._supergraph_header())
        for type_def in sorted(self.model.types.values(), key=lambda t: t.name):
            if not self.visible(type_def.name):
                continue
            parts.append(self._type(type_def))
        return "\n\n".join(p for p in parts if p) + "\n"

    # -- pieces ---------------------------------------------------------------------------

    def _inaccessible(self, flag: bool) -> str:
        return " @inaccessible" if (self.supergraph and flag) else ""

    def _type_joins(self, type_def: TypeDef) -> str:
        if not self.supergraph:
            return ""
        out = []
        for graph, join in type_def.joins.items():
            g = self.graph_enum[graph]
            extra = ""
            if join.extension:
                extra += ", extension: true"
            if join.is_interface_object:
                extra += ", isInterfaceObject: true"
            if not join.keys:
                out.append(f"\n  @join__type(graph: {g}{extra})")
            for key in join.keys:
                resolvable = "" if key.resolvable else ", resolvable: false"
                out.append(
                    f"\n  @join__type(graph: {g}, key: {json.dumps(key.fields)}{extra}{resolvable})"
                )
        for iface, graphs in type_def.interfaces.items():
            for graph in graphs:
                out.append(
                    f"\n  @join__implements(graph: {self.graph_enum[graph]}, "
                    f"interface: {json.dumps(iface)})"
                )
        for member, graphs in type_def.members.items():
            for graph in graphs:
                out.append(
                    f"\n  @join__unionMember(graph: {self.graph_enum[graph]}, "
                    f"member: {json.dumps(member)})"
                )
        return "".join(out)

    def _field_joins(self, type_def: TypeDef, field_def: FieldDef) -> str:
        if not self.supergraph:
            return ""
        joins = field_def.joins
        if (
            type_def.kind in (OBJECT, INTERFACE)
            and len(joins) == len(type_def.joins)
            and all(
                not j.external
                and not j.requires
                and not j.provides
                and not j.override
                and j.type == field_def.type
                for j in joins.values()
            )
        ):
            return ""  # resolvable everywhere the type is: no directive needed
        out = []
        for graph, join in joins.items():
            args = [f"graph: {self.graph_enum[graph]}"]
            if join.requires:
                args.append(f"requires: {json.dumps(join.requires)}")
            if join.provides:
                args.append(f"provides: {json.dumps(join.provides)}")
            if join.type != field_def.type:
                args.append(f"type: {json.dumps(join.type)}")
            if join.external:
                args.append("external: true")
            if join.override:
                args.append(f"override: {json.dumps(join.override)}")
            if join.overridden:
                args.append("usedOverridden: true")
            out.append(f" @join__field({', '.join(args)})")
        return "".join(out)

    def _args(self, arguments: Iterable[ArgumentDef]) -> str:
        shown = [a for a in arguments if self.supergraph or not a.inaccessible]
        shown = [a for a in shown if self.visible(named_type(a.type))]
        if not shown:
            return ""
        items = []
        for arg in shown:
            text = _desc(arg.description) + f"{arg.name}: {arg.type}"
            if arg.default is not None:
                text += f" = {arg.default}"
            text += _deprecated(arg.deprecation) + self._inaccessible(arg.inaccessible)
            items.append(text.replace("\n", " "))
        return "(" + ", ".join(items) + ")"

    def _fields(self, type_def: TypeDef) -> list[str]:
        lines = []
        for field_def in type_def.fields.values():
            if not self.supergraph and field_def.inaccessible:
                continue
            if not self.visible(named_type(field_def.type)):
                continue
            line = _desc(field_def.description, "  ") + f"  {field_def.name}"
            if type_def.kind == INPUT_OBJECT:
                line += f": {field_def.type}"
                if field_def.default is not None:
                    line += f" = {field_def.default}"
            else:
                line += f"{self._args(field_def.arguments.values())}: {field_def.type}"
            line += _deprecated(field_def.deprecation)
            line += self._inaccessible(field_def.inaccessible)
            line += self._field_joins(type_def, field_def)
            lines.append(line)
        return lines

    def _type(self, type_def: TypeDef) -> str:
        head = _desc(type_def.description)
        joins = self._type_joins(type_def) + self._inaccessible(type_def.inaccessible)
        if type_def.kind == SCALAR:
            if type_def.name in BUILTIN_SCALARS:
                return ""
            specified = (
                f" @specifiedBy(url: {json.dumps(type_def.specified_by)})"
                if type_def.specified_by
                else ""
            )
            return f"{head}scalar {type_def.name}{specified}{joins}"
        if type_def.kind == UNION:
            members = [m for m in type_def.members if self.visible(m)]
            return f"{head}union {type_def.name}{joins} = {' | '.join(members)}"
        if type_def.kind == ENUM:
            values = []
            for value in type_def.values.values():
                if not self.supergraph and value.inaccessible:
                    continue
                text = _desc(value.description, "  ") + f"  {value.name}"
                text += _deprecated(value.deprecation) + self._inaccessible(value.inaccessible)
                if self.supergraph:
                    text += "".join(
                        f" @join__enumValue(graph: {self.graph_enum[g]})"
                        for g in sorted(value.graphs)
                    )
                values.append(text)
            return f"{head}enum {type_def.name}{joins} {{\n" + "\n".join(values) + "\n}"
        keyword = {OBJECT: "type", INTERFACE: "interface", INPUT_OBJECT: "input"}[type_def.kind]
        implements = [i for i in type_def.interfaces if self.visible(i)]
        impl = f" implements {' & '.join(implements)}" if implements else ""
        fields = self._fields(type_def)
        return f"{head}{keyword} {type_def.name}{impl}{joins} {{\n" + "\n".join(fields) + "\n}"

    def _supergraph_header(self) -> str:
        roots = "\n".join(f"  {op}: {name}" for op, name in self.model.root_types.items())
        graphs = "\n".join(
            f"  {sg.enum_value} @join__graph("
            f"name: {json.dumps(sg.name)}, url: {json.dumps(sg.url)})"
            for sg in self.model.subgraphs.values()
        )
        return f"""schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)
{{
{roots}
}}

directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION \
| SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, \
type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable \
on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable \
on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, \
resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable \
on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) \
repeatable on SCHEMA

scalar join__FieldSet

enum join__Graph {{
{graphs}
}}

scalar link__Import

enum link__Purpose {{
  SECURITY
  EXECUTION
}}"""


def print_api_schema(model: Supergraph) -> str:
    """SDL of the client-facing schema."""
    return _Printer(model, supergraph=False).print()


def print_supergraph(model: Supergraph) -> str:
    """A join-spec (v0.3) supergraph SDL, as standard gateways and composers read it."""
    return _Printer(model, supergraph=True).print()
