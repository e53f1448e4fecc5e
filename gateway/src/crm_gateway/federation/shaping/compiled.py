"""A compiled response shaper: the fast path for the common, error-free case.

Shaping the merged raw tree with graphql-core's ``execute`` (``executor.shape_response``) costs
one resolver call, one resolve-info object and several type checks per field — for a list of
50 products with 3 reviews and an author each that is most of the gateway's own CPU time.

`compile_shaper` turns one operation (with its fragments, and its ``@skip``/``@include``
decided by the plan's condition variables) into nested closures that build the response
directly: requested field order, aliases, merged duplicate fields, ``__typename`` of object
types, and leaf serialization by the same scalar/enum ``serialize`` graphql-core would call.

It only applies where the answer is certain without resolution at run time:

- no field of an abstract type (interface/union) anywhere in the selection, no introspection;
- at run time, any surprise — a null in a non-null position, a `FieldFailure`, a value of the
  wrong shape, a leaf that does not serialize — raises `Fallback`, and the caller shapes with
  graphql-core instead, which then produces the spec's null propagation and errors. Responses
  that carry subgraph errors are shaped by graphql-core from the start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLFloat,
    GraphQLID,
    GraphQLIncludeDirective,
    GraphQLInt,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLString,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.values import get_directive_values
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.pyutils import Undefined

from crm_gateway.federation.execution.executor import FieldFailure
from crm_gateway.federation.planning.plan import type_alias

Shape = Callable[[Any], Any]
Shaper = Callable[[dict[str, Any]], dict[str, Any]]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class Fallback(Exception):
    """The raw tree needs graphql-core's shaping (errors, nulls, unexpected values)."""


class _Unsupported(Exception):
    """The operation has something only graphql-core shapes (abstract types, introspection)."""


def compile_shaper(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Shaper | None:
    """A function raw tree → ``data``, or None when this operation needs graphql-core."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    try:
        return _Compiler(schema, fragments, variables).object_shape(root, [operation.selection_set])
    except _Unsupported:
        return None


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    # -- field collection (graphql-core's collect_fields, decided at compile time) -----------

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _applies(self, condition: str | None, object_type: GraphQLObjectType) -> bool:
        if condition is None or condition == object_type.name:
            return True
        named = self.schema.get_type(condition)
        return (
            named is not None
            and is_abstract_type(named)
            and self.schema.is_sub_type(
                named,  # type: ignore[arg-type]
                object_type,
            )
        )

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_sets: Iterable[SelectionSetNode],
        fields: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not self._included(selection):  # type: ignore[arg-type]
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if self._applies(condition.name.value if condition else None, object_type):
                        self._collect(object_type, [selection.selection_set], fields, visited)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if self._applies(fragment.type_condition.name.value, object_type):
                        self._collect(object_type, [fragment.selection_set], fields, visited)

    # -- compiling ----------------------------------------------------------------------------

    def object_shape(
        self, object_type: GraphQLObjectType, selection_sets: Sequence[SelectionSetNode]
    ) -> Shape:
        fields: dict[str, list[FieldNode]] = {}
        self._collect(object_type, selection_sets, fields, set())
        entries: list[tuple[str, str, Shape | None]] = []
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                entries.append((key, key, None))
                continue
            definition = object_type.fields.get(name)
            if definition is None:  # __schema / __type, or not validated
                raise _Unsupported(name)
            sub_sets = [n.selection_set for n in nodes if n.selection_set is not None]
            entries.append(
                (
                    key,
                    type_alias(object_type.name, key),
                    self._type_shape(definition.type, sub_sets),
                )
            )
        return _object(object_type.name, tuple(entries))

    def _type_shape(
        self, output_type: GraphQLOutputType, sub_sets: Sequence[SelectionSetNode]
    ) -> Shape:
        if is_non_null_type(output_type):
            return _non_null(self._inner_shape(output_type.of_type, sub_sets))  # type: ignore[union-attr]
        return _nullable(self._inner_shape(output_type, sub_sets))

    def _inner_shape(
        self, output_type: GraphQLOutputType, sub_sets: Sequence[SelectionSetNode]
    ) -> Shape:
        if is_list_type(output_type):
            assert isinstance(output_type, GraphQLList)
            return _list(self._type_shape(output_type.of_type, sub_sets))
        if is_leaf_type(output_type):
            return _leaf(output_type)
        if is_object_type(output_type):
            assert isinstance(output_type, GraphQLObjectType)
            return self.object_shape(output_type, sub_sets)
        raise _Unsupported(str(output_type))  # interface or union: needs type resolution


# -- the closures (hot path: keep them small) --------------------------------------------------


def _object(type_name: str, entries: tuple[tuple[str, str, Shape | None], ...]) -> Shape:
    def shape(source: Any) -> Any:
        if type(source) is not dict:
            raise Fallback
        out = {}
        for key, alias, field_shape in entries:
            if field_shape is None:
                out[key] = type_name
            else:
                out[key] = field_shape(source[key] if key in source else source.get(alias))
        return out

    return shape


def _nullable(inner: Shape) -> Shape:
    def shape(value: Any) -> Any:
        return None if value is None else inner(value)

    return shape


def _non_null(inner: Shape) -> Shape:
    def shape(value: Any) -> Any:
        if value is None:
            raise Fallback
        return inner(value)

    return shape


def _list(item: Shape) -> Shape:
    def shape(value: Any) -> Any:
        if type(value) is not list:
            raise Fallback
        return [item(v) for v in value]

    return shape


def _leaf(leaf_type: Any) -> Shape:
    """Serialize like graphql-core's complete_leaf_value; the common cases without a call."""
    exact: type | None = None
    if leaf_type is GraphQLString or leaf_type is GraphQLID:
        exact = str
    elif leaf_type is GraphQLBoolean:
        exact = bool

    def serialize(value: Any) -> Any:
        if isinstance(value, FieldFailure):  # custom scalars serialize anything as is
            raise Fallback
        try:
            serialized = leaf_type.serialize(value)
        except Exception as exc:
            raise Fallback from exc
        if serialized is None or serialized is Undefined:
            raise Fallback
        return serialized

    if exact is not None:
        kind = exact

        def shape(value: Any) -> Any:
            return value if type(value) is kind else serialize(value)

        return shape
    if leaf_type is GraphQLInt:

        def shape_int(value: Any) -> Any:
            if type(value) is int and INT_MIN <= value <= INT_MAX:
                return value
            return serialize(value)

        return shape_int
    if leaf_type is GraphQLFloat:

        def shape_float(value: Any) -> Any:
            if type(value) is float and math.isfinite(value):
                return value
            return serialize(value)

        return shape_float
    return serialize
