"""Static cost estimate of a validated operation (a guard against expensive queries).

Every selected field costs 1; ``__typename`` and introspection fields are free. A list field
multiplies the cost of its selection by its size argument (``first``/``last``/``limit``,
literal or variable) or, without one, by a default list size. A size argument on a field
that is not a list (a Relay connection) sizes the lists directly below it (``edges``,
``nodes``). Nesting multiplies, so ``customers(first: 50) { edges { node { contacts { id } } } }``
costs about 50 × 10 per contact field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

SIZE_ARGUMENTS = ("first", "last", "limit")
FREE_FIELDS = frozenset({"__typename", "__schema", "__type"})


def estimate_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    *,
    default_list_size: int,
) -> int:
    """The estimated cost of ``operation`` (assumed valid against ``schema``)."""
    root: GraphQLObjectType | None
    if operation.operation == OperationType.MUTATION:
        root = schema.mutation_type
    elif operation.operation == OperationType.SUBSCRIPTION:
        root = schema.subscription_type
    else:
        root = schema.query_type
    if root is None:
        return 0
    estimator = _Estimator(schema, fragments, variables, default_list_size)
    return estimator.selection_cost(operation.selection_set, root, None, frozenset())


class _Estimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_list_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_list_size = default_list_size
        # A fragment's cost depends only on where it is spread (type, inherited size):
        # memoised, so a "fragment bomb" (each fragment spreading the next twice) is linear.
        self.memo: dict[tuple[str, str, int | None], int] = {}

    def selection_cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        inherited_size: int | None,
        visiting: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total += self.field_cost(sel, parent, inherited_size, visiting)
            elif isinstance(sel, InlineFragmentNode):
                target = parent
                if sel.type_condition is not None:
                    target = self.schema.get_type(sel.type_condition.name.value) or parent
                total += self.selection_cost(sel.selection_set, target, inherited_size, visiting)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visiting:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                key = (name, getattr(parent, "name", ""), inherited_size)
                cost = self.memo.get(key)
                if cost is None:
                    cost = self.memo[key] = self.selection_cost(
                        fragment.selection_set, target, inherited_size, visiting | {name}
                    )
                total += cost
        return total

    def field_cost(
        self, node: FieldNode, parent: Any, inherited_size: int | None, visiting: frozenset[str]
    ) -> int:
        name = node.name.value
        if name in FREE_FIELDS:
            return 0
        field_type: GraphQLOutputType | None = None
        definition: GraphQLField | None = None
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(name)
            field_type = definition.type if definition is not None else None
        size = self._size_argument(node, definition)
        if field_type is not None and _is_list(field_type):
            multiplier = size or inherited_size or self.default_list_size
            child_size = None
        else:
            multiplier = 1
            child_size = size  # a connection: its size applies to the list below it
        named = get_named_type(field_type) if field_type is not None else None
        children = self.selection_cost(node.selection_set, named, child_size, visiting)
        return 1 + multiplier * children

    def _size_argument(self, node: FieldNode, definition: GraphQLField | None) -> int | None:
        given = {arg.name.value: arg.value for arg in node.arguments or ()}
        for name in SIZE_ARGUMENTS:
            value: Any = None
            if name in given:
                literal = given[name]
                if isinstance(literal, IntValueNode):
                    value = int(literal.value)
                elif isinstance(literal, VariableNode):
                    value = self.variables.get(literal.name.value)
            elif definition is not None and name in definition.args:
                # Not given: the argument's default (`topProducts(first: Int = 5)`).
                value = definition.args[name].default_value
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        return None


def actual_cost(data: Any) -> int:
    """The same measure over a response's ``data``: 1 per field, lists by their real length.

    ``estimate_cost`` of an operation equals this for a response whose lists all hold the
    assumed number of items; the calibration (gateway README, "Estimated cost") compares both.
    """
    if isinstance(data, list):
        return sum(actual_cost(item) for item in data)
    if isinstance(data, dict):
        return sum(0 if key == "__typename" else 1 + actual_cost(v) for key, v in data.items())
    return 0


def _is_list(field_type: GraphQLOutputType) -> bool:
    if isinstance(field_type, GraphQLNonNull):
        return isinstance(field_type.of_type, GraphQLList)
    return isinstance(field_type, GraphQLList)
