"""Field-set helpers: representations read back from key/required selections."""

from __future__ import annotations

from graphql import (
    FieldNode,
    InlineFragmentNode,
    SelectionSetNode,
)

from crm_gateway.federation.planning.plan import (
    RepField,
    SelSet,
)


def selection_size(selection: SelSet) -> int:
    size = len(selection.fields)
    for sel in selection.fields.values():
        if sel.selection is not None:
            size += selection_size(sel.selection)
    return size + sum(selection_size(frag) for frag in selection.fragments.values())


def conflicts(existing: list[RepField], wanted: list[RepField]) -> bool:
    keys = {r.name: r.key for r in existing}
    return any(r.name in keys and keys[r.name] != r.key for r in wanted)


def rep_fields(selection_set: SelectionSetNode, optional: bool = False) -> list[RepField]:
    out: list[RepField] = []
    seen: set[str] = set()

    def add(field: RepField) -> None:
        if field.name not in seen:
            seen.add(field.name)
            out.append(field)

    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            sub = tuple(rep_fields(sel.selection_set)) if sel.selection_set else None
            add(RepField(sel.name.value, sel.name.value, sub, optional))
        elif isinstance(sel, InlineFragmentNode):
            # Fields of a type condition: copied when the object has them.
            add(RepField("__typename", "__typename", None, True))
            for inner in rep_fields(sel.selection_set, True):
                add(inner)
    return out


def has_fragments(selection_set: SelectionSetNode | None) -> bool:
    if selection_set is None:
        return False
    return any(
        isinstance(sel, InlineFragmentNode)
        or (isinstance(sel, FieldNode) and has_fragments(sel.selection_set))
        for sel in selection_set.selections
    )


def copy_selection(selection_set: SelectionSetNode, into: SelSet) -> None:
    """A required field set verbatim (it is valid in the subgraph that declared it, even
    for types hidden from the API schema), with ``__typename`` at every level."""
    into.ensure_typename()
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            composite = sel.selection_set is not None
            field = into.add(sel.name.value, sel.name.value, tuple(sel.arguments or ()), composite)
            if sel.selection_set is not None and field.selection is not None:
                copy_selection(sel.selection_set, field.selection)
        elif isinstance(sel, InlineFragmentNode):
            if sel.type_condition is None:
                copy_selection(sel.selection_set, into)
            else:
                copy_selection(sel.selection_set, into.fragment(sel.type_condition.name.value))
