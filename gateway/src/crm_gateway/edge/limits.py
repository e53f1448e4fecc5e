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
    max_root_fields: int | None = None,
) -> list[GraphQLError]:
    """Depth (introspection subtrees not counted), aliases and root fields, fragments expanded."""
    errors: list[GraphQLError] = []
    if max_root_fields is not None:
        roots = _root_fields(operation.selection_set, fragments, frozenset(), {})
        if roots > max_root_fields:
            errors.append(
                GraphQLError(
                    f"Operation selects {roots} root fields, more than the maximum of "
                    f"{max_root_fields} (GATEWAY_MAX_ROOT_FIELDS)",
                    extensions={"code": LIMIT_CODE, "limit": "max_root_fields"},
                )
            )
    depth = _depth(operation.selection_set, fragments, frozenset(), {})
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
    memo: dict[str, int],
) -> int:
    """Deepest field path; each fragment is measured once (memo), so fragment bombs are cheap."""
    if selection_set is None:
        return 0
    deepest = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value in INTROSPECTION_FIELDS:
                continue
            deepest = max(deepest, 1 + _depth(sel.selection_set, fragments, visiting, memo))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, _depth(sel.selection_set, fragments, visiting, memo))
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting:
                continue
            if name not in memo:
                memo[name] = _depth(fragment.selection_set, fragments, visiting | {name}, memo)
            deepest = max(deepest, memo[name])
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


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: frozenset[str],
    memo: dict[str, int],
) -> int:
    """Root fields with fragments expanded; ``__typename`` costs nothing and is not counted."""
    count = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            count += sel.name.value != "__typename"
        elif isinstance(sel, InlineFragmentNode):
            count += _root_fields(sel.selection_set, fragments, visiting, memo)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visiting:
                if name not in memo:
                    memo[name] = _root_fields(
                        fragment.selection_set, fragments, visiting | {name}, memo
                    )
                count += memo[name]
    return count


def uses_introspection(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: frozenset[str] = frozenset(),
    searched: set[str] | None = None,
) -> bool:
    """Whether ``__schema`` or ``__type`` is selected anywhere (``__typename`` is allowed)."""
    searched = set() if searched is None else searched
    if selection_set is None:
        return False
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value in INTROSPECTION_FIELDS:
                return True
            if uses_introspection(sel.selection_set, fragments, visiting, searched):
                return True
        elif isinstance(sel, InlineFragmentNode):
            if uses_introspection(sel.selection_set, fragments, visiting, searched):
                return True
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting or name in searched:
                continue
            searched.add(name)
            if uses_introspection(fragment.selection_set, fragments, visiting | {name}, searched):
                return True
    return False
