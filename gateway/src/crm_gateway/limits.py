"""Operation limits checked before validation and planning (cheap guards against abuse)."""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

LIMIT_CODE = "GRAPHQL_VALIDATION_FAILED"
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def check_limits(
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    *,
    max_depth: int,
    max_aliases: int,
) -> list[GraphQLError]:
    """Depth (introspection subtrees not counted) and alias count, fragments expanded."""
    errors: list[GraphQLError] = []
    depth = _depth(operation.selection_set, fragments, frozenset())
    if depth > max_depth:
        errors.append(
            GraphQLError(
                f"Query depth {depth} exceeds the maximum depth of {max_depth} (GATEWAY_MAX_DEPTH)",
                extensions={"code": LIMIT_CODE, "limit": "max_depth"},
            )
        )
    aliases, reserved = _aliases(operation.selection_set, fragments, {}, frozenset())
    if aliases > max_aliases:
        errors.append(
            GraphQLError(
                f"Query uses {aliases} aliases, more than the maximum of {max_aliases} "
                "(GATEWAY_MAX_ALIASES)",
                extensions={"code": LIMIT_CODE, "limit": "max_aliases"},
            )
        )
    if reserved:
        errors.append(
            GraphQLError("Aliases starting with '__' are reserved", extensions={"code": LIMIT_CODE})
        )
    return errors


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value in INTROSPECTION_FIELDS:
                continue
            deepest = max(deepest, 1 + _depth(sel.selection_set, fragments, visiting))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, _depth(sel.selection_set, fragments, visiting))
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting:
                continue
            deepest = max(deepest, _depth(fragment.selection_set, fragments, visiting | {name}))
    return deepest


def _aliases(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    memo: dict[str, tuple[int, bool]],
    visiting: frozenset[str],
) -> tuple[int, bool]:
    """(number of aliases with fragment spreads expanded, whether a reserved alias is used)."""
    if selection_set is None:
        return 0, False
    count, reserved = 0, False
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.alias is not None:
                count += 1
                reserved = reserved or sel.alias.value.startswith("__")
            sub = _aliases(sel.selection_set, fragments, memo, visiting)
        elif isinstance(sel, InlineFragmentNode):
            sub = _aliases(sel.selection_set, fragments, memo, visiting)
        else:
            assert isinstance(sel, FragmentSpreadNode)
            name = sel.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting:
                continue
            if name not in memo:
                memo[name] = _aliases(fragment.selection_set, fragments, memo, visiting | {name})
            sub = memo[name]
        count += sub[0]
        reserved = reserved or sub[1]
    return count, reserved
