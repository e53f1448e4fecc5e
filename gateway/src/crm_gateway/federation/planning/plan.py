"""The plan model: the selection IR printed into subgraph documents, fetches, phases, plans.

A plan is a list of *phases* run one after the other (one phase for a query; one per group of
consecutive same-subgraph root fields for a mutation). A phase is a list of *stages*; every
fetch of a stage only needs data produced by earlier stages, so the executor sends, per stage,
one request per subgraph (several ``_entities`` fetches of a stage become aliased fields of that
one request). Root fetches carry the fields their subgraph owns plus ``__typename`` and key
fields wherever the plan jumps to another subgraph; entity fetches select the jumped fields on
``_entities`` and say how to build representations from the objects at their path.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    ListValueNode,
    ObjectValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    print_ast,
)

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
    _feeders: dict[int, tuple[Feeder, ...] | None] = field(default_factory=dict)
    _positions: dict[int, int] = field(default_factory=dict)

    def position(self, fetch: Fetch) -> int:
        """The index of the fetch's stage over all phases (stages run in this order)."""
        if not self._positions:
            position = 0
            for phase in self.phases:
                for stage in phase.stages:
                    for each in stage:
                        self._positions[each.id] = position
                    position += 1
        return self._positions[fetch.id]

    def fed_before(self, fetch: Fetch, position: int) -> bool:
        """Whether every object at ``fetch.path`` was in the tree before stage ``position``.

        True when all the fetches that put objects there (`feeders`) ran in earlier stages: the
        objects collected at the start of that stage are then still all of them, so fetches at
        the same path in that stage or later ones share one collection.
        """
        feeders = self.feeders(fetch)
        if feeders is None:
            return False
        if not self._positions:
            self.position(fetch)
        return all(self._positions[f.fetch_id] < position for f in feeders)

    def feeders(self, fetch: Fetch) -> tuple[Feeder, ...] | None:
        """The earlier fetches whose answers put the objects at ``fetch.path`` into the tree.

        An object at a path is created by the fetch that selected the path's last field, and
        that fetch answered for an object at a shorter prefix of the path. So the objects an
        entity fetch needs are found by walking, from the objects each *feeder* merged its
        answer into, only the rest of the path (`Feeder.rest`) instead of the whole path from
        the root. None when no earlier fetch selects the path (the executor then walks from
        the root). Computed once per (cached) plan.
        """
        if fetch.id in self._feeders:
            return self._feeders[fetch.id]
        found: list[Feeder] = []
        for phase in self.phases:
            for stage in phase.stages:
                if fetch in stage:
                    result = tuple(found) if found else None
                    self._feeders[fetch.id] = result
                    return result
                for earlier in stage:
                    depth = len(earlier.path)
                    if depth >= len(fetch.path) or fetch.path[:depth] != earlier.path:
                        continue
                    rest = fetch.path[depth:]
                    selections = (
                        [earlier.root]
                        if earlier.root is not None
                        else [part.selection for part in earlier.entities.values()]
                    )
                    if any(_selects(sel, rest, 0) for sel in selections):
                        found.append(Feeder(earlier.id, rest))
        self._feeders[fetch.id] = None
        return None

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


@dataclass(frozen=True, slots=True)
class Feeder:
    """An earlier fetch that creates objects at an entity fetch's path (`QueryPlan.feeders`)."""

    fetch_id: int
    rest: tuple[str, ...]  # the entity fetch's path below the feeder's path


def _selects(sel: SelSet, rest: tuple[str, ...], i: int) -> bool:
    """Whether ``sel`` (its fields or any of its type conditions) selects the path ``rest[i:]``."""
    if i == len(rest):
        return True
    found = sel.fields.get(rest[i])
    if found is not None and found.selection is not None and _selects(found.selection, rest, i + 1):
        return True
    return any(_selects(frag, rest, i) for frag in sel.fragments.values())


def type_alias(parent_type: str, key: str) -> str:
    """The subgraph response key of ``key`` under ``parent_type`` when its types conflict."""
    return f"{INTERNAL_ALIAS_PREFIX}{parent_type}__{key}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def variables_in(value: ValueNode, out: set[str]) -> None:
    if isinstance(value, VariableNode):
        out.add(value.name.value)
    elif isinstance(value, ListValueNode):
        for item in value.values:
            variables_in(item, out)
    elif isinstance(value, ObjectValueNode):
        for object_field in value.fields:
            variables_in(object_field.value, out)
