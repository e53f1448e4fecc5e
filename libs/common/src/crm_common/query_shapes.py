"""The shapes of the queries a service sends, and whether a declared index serves them.

A *shape* is what decides index use on MongoDB: per database and collection, which fields a
filter compares by equality (``$in`` counts as equality: MongoDB explodes it into point
intervals, and merges them for a sort), which by range, which it only filters on
(``$ne``, ``$exists``, regex...), and the sort. Values are dropped.

`QueryShapeRecorder` is a PyMongo command listener: `create_client` registers one when
``CRM_QUERY_SHAPES_FILE`` names a file, and every new shape a process sends is appended to it
as one JSON line. The e2e stack sets it, and ``tests/test_query_shapes.py`` checks the
recording against the reviewed list ``tests/query_shapes.json`` and that list against the
declared indexes, by the equality–sort–range rule (`esr_fit`).

Keyset pages (`crm_common.pagination.keyset_condition`) add ``$or`` of range conditions on
the sort keys: "after this row" in sort order. An index that serves the page's equality
fields and its sort serves the keyset condition too (MongoDB bounds or filters the same index
scan, nothing is sorted in memory), so the shape records the condition as ``keyset`` and the
rule is the one of the query without it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import monitoring

SHAPES_FILE_ENV = "CRM_QUERY_SHAPES_FILE"

_EQUALITY_OPS = {"$eq", "$in"}
_RANGE_OPS = {"$gt", "$gte", "$lt", "$lte"}
# Commands that carry no query worth an index.
_IGNORED_COMMANDS = {"insert", "getMore", "killCursors", "createIndexes", "listIndexes"}


@dataclass(frozen=True)
class Branch:
    """One conjunction of conditions (a whole filter, or one branch of its ``$or``)."""

    eq: tuple[str, ...] = ()
    range: tuple[str, ...] = ()
    other: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"eq": list(self.eq), "range": list(self.range), "other": list(self.other)}


@dataclass(frozen=True)
class QueryShape:
    db: str
    collection: str
    op: str
    eq: tuple[str, ...] = ()
    range: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    sort: tuple[tuple[str, int], ...] = ()
    keyset: bool = False
    # Branches of a non-keyset ``$or`` (each needs an index of its own).
    any_of: tuple[Branch, ...] = ()

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "db": self.db,
            "collection": self.collection,
            "op": self.op,
            "eq": list(self.eq),
            "range": list(self.range),
            "other": list(self.other),
            "sort": [[path, direction] for path, direction in self.sort],
        }
        if self.keyset:
            data["keyset"] = True
        if self.any_of:
            data["any_of"] = [branch.as_json() for branch in self.any_of]
        return data

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> QueryShape:
        return QueryShape(
            db=data["db"],
            collection=data["collection"],
            op=data["op"],
            eq=tuple(data.get("eq", ())),
            range=tuple(data.get("range", ())),
            other=tuple(data.get("other", ())),
            sort=tuple((path, int(direction)) for path, direction in data.get("sort", ())),
            keyset=bool(data.get("keyset", False)),
            any_of=tuple(
                Branch(
                    eq=tuple(b.get("eq", ())),
                    range=tuple(b.get("range", ())),
                    other=tuple(b.get("other", ())),
                )
                for b in data.get("any_of", ())
            ),
        )


@dataclass
class _Conditions:
    eq: set[str] = field(default_factory=set)
    range: set[str] = field(default_factory=set)
    other: set[str] = field(default_factory=set)
    ors: list[list[Mapping[str, Any]]] = field(default_factory=list)
    opaque: bool = False  # $expr, $where, $text...: only recorded as "other"

    def add_filter(self, query: Mapping[str, Any]) -> None:
        for key, value in query.items():
            if key == "$and":
                for part in value:
                    self.add_filter(part)
            elif key in ("$or", "$nor"):
                if key == "$or" and len(value) == 1:
                    self.add_filter(value[0])
                elif key == "$or":
                    self.ors.append(list(value))
                else:
                    self.other.add("$nor")
            elif key.startswith("$"):
                self.other.add(key)
            else:
                self._add_field(key, value)

    def _add_field(self, path: str, value: Any) -> None:
        if isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value):
            ops = set(value)
            if ops <= _EQUALITY_OPS and len(ops) == 1:
                self.eq.add(path)
            elif ops <= _RANGE_OPS:
                self.range.add(path)
            elif "$eq" in ops or "$in" in ops:
                self.eq.add(path)
            elif ops & _RANGE_OPS:
                self.range.add(path)
            else:
                self.other.add(path)
        elif hasattr(value, "pattern") and hasattr(value, "flags"):
            self.other.add(path)  # a regular expression
        else:
            self.eq.add(path)

    def branch(self) -> Branch:
        return Branch(
            eq=tuple(sorted(self.eq)),
            range=tuple(sorted(self.range - self.eq)),
            other=tuple(sorted(self.other - self.eq - self.range)),
        )


def _is_keyset(branches: Sequence[Mapping[str, Any]], sort: Sequence[tuple[str, int]]) -> bool:
    """``$or`` branch i = equality on sort keys 0..i-1 and a range on sort key i."""
    if not sort or len(branches) != len(sort):
        return False
    paths = [path for path, _ in sort]
    for i, branch in enumerate(branches):
        if list(branch) != paths[: i + 1] and set(branch) != set(paths[: i + 1]):
            return False
        last = branch[paths[i]]
        if not (isinstance(last, Mapping) and set(last) <= _RANGE_OPS and last):
            return False
    return True


def filter_shape(
    db: str,
    collection: str,
    op: str,
    query: Mapping[str, Any] | None,
    sort: Sequence[tuple[str, int]] = (),
) -> QueryShape:
    conditions = _Conditions()
    conditions.add_filter(query or {})
    keyset = False
    any_of: list[Branch] = []
    for branches in conditions.ors:
        if _is_keyset(branches, sort):
            keyset = True
            continue
        for raw in branches:
            part = _Conditions()
            part.add_filter(raw)
            any_of.append(part.branch())
    base = conditions.branch()
    return QueryShape(
        db=db,
        collection=collection,
        op=op,
        eq=base.eq,
        range=base.range,
        other=base.other,
        sort=tuple((str(path), int(direction)) for path, direction in sort),
        keyset=keyset,
        any_of=tuple(sorted(set(any_of), key=lambda b: (b.eq, b.range, b.other))),
    )


def _sort_of(spec: Any) -> list[tuple[str, int]]:
    if not spec:
        return []
    items = spec.items() if isinstance(spec, Mapping) else spec
    return [(str(path), int(direction)) for path, direction in items]


def command_shapes(db: str, command_name: str, command: Mapping[str, Any]) -> list[QueryShape]:
    """The query shapes in one command as PyMongo sends it (empty for the ones without)."""
    if command_name in _IGNORED_COMMANDS or command_name not in command:
        return []
    collection = command.get(command_name)
    if not isinstance(collection, str):
        return []
    if command_name == "find":
        return [
            filter_shape(
                db, collection, "find", command.get("filter"), _sort_of(command.get("sort"))
            )
        ]
    if command_name in ("count", "distinct"):
        return [filter_shape(db, collection, command_name, command.get("query"))]
    if command_name == "findAndModify":
        return [
            filter_shape(
                db,
                collection,
                "findAndModify",
                command.get("query"),
                _sort_of(command.get("sort")),
            )
        ]
    if command_name == "update":
        return [
            filter_shape(db, collection, "update", statement.get("q"))
            for statement in command.get("updates", ())
        ]
    if command_name == "delete":
        return [
            filter_shape(db, collection, "delete", statement.get("q"))
            for statement in command.get("deletes", ())
        ]
    if command_name == "aggregate":
        pipeline = list(command.get("pipeline", ()))
        match: Mapping[str, Any] = {}
        sort: list[tuple[str, int]] = []
        if pipeline and "$match" in pipeline[0]:
            match = pipeline.pop(0)["$match"]
        if pipeline and "$sort" in pipeline[0]:
            sort = _sort_of(pipeline[0]["$sort"])
        return [filter_shape(db, collection, "aggregate", match, sort)]
    return []


class QueryShapeRecorder(monitoring.CommandListener):
    """Appends every shape not seen before by this process to ``path`` (one JSON per line)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen: set[QueryShape] = set()
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        try:
            shapes = command_shapes(event.database_name, event.command_name, event.command)
        except Exception:  # a shape we cannot read must never break a query
            return
        new = [shape for shape in shapes if shape not in self._seen]
        if not new:
            return
        with self._lock:
            self._seen.update(new)
            with self._path.open("a", encoding="utf-8") as out:
                for shape in new:
                    out.write(json.dumps(shape.as_json(), sort_keys=True) + "\n")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


def recorder_from_env() -> QueryShapeRecorder | None:
    path = os.environ.get(SHAPES_FILE_ENV)
    return QueryShapeRecorder(Path(path)) if path else None


def read_recorded(path: Path) -> set[QueryShape]:
    if not path.exists():
        return set()
    return {
        QueryShape.from_json(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }


# -- the equality-sort-range rule ------------------------------------------------------------

IndexKeys = Sequence[tuple[str, int]]


def _serves(
    eq: set[str], range_: set[str], sort: Sequence[tuple[str, int]], keys: IndexKeys
) -> bool:
    """Does an index on ``keys`` serve a query with these equality, range fields and sort?

    Equality–sort–range: the index starts with exactly the query's equality fields (any
    order), then the sort keys in order with all directions as sorted or all reversed (a sort
    key compared by equality is constant and may be left out), then (optionally) range fields.
    """
    if "_id" in eq:
        return True  # the _id index: a point lookup (or a few)
    fields = [path for path, _ in keys]
    n = len(eq)
    if set(fields[:n]) != eq:
        return False
    rest = list(keys[n:])
    wanted = [(path, direction) for path, direction in sort if path not in eq]
    if wanted:
        head = rest[: len(wanted)]
        if [path for path, _ in head] != [path for path, _ in wanted]:
            return False
        same = all(int(a) == int(b) for (_, a), (_, b) in zip(head, wanted, strict=True))
        flipped = all(int(a) == -int(b) for (_, a), (_, b) in zip(head, wanted, strict=True))
        return same or flipped
    # No sort: an equality prefix alone serves it; a range field right after bounds it more.
    return bool(eq) or bool(rest and rest[0][0] in range_)


def esr_fit(
    shape: QueryShape, indexes: Sequence[IndexKeys], *, residual: Sequence[str] = ()
) -> bool:
    """True when one of ``indexes`` serves ``shape`` by the equality–sort–range rule.

    ``residual``: equality fields the reviewed list says are filtered on the documents the
    index finds (optional user filters over a set the index already bounds). An ``$or`` beside
    equalities is such a filter too (MongoDB plans the ``$and`` on an index of the
    equalities); an ``$or`` alone needs an index for every branch, as MongoDB then plans
    each branch on its own.
    """
    eq = set(shape.eq) - set(residual)
    range_ = set(shape.range)
    if "_id" in eq:
        return True  # the _id index: a point lookup (or a few)
    if shape.any_of and not eq:
        return all(
            any(_serves(set(branch.eq), set(branch.range), shape.sort, keys) for keys in indexes)
            for branch in shape.any_of
        )
    return any(_serves(eq, range_, shape.sort, keys) for keys in indexes)


# -- the reviewed list -----------------------------------------------------------------------


def _covered(fields: Sequence[str], allowed: Sequence[str]) -> bool:
    """Every field is allowed (an allowed ``prefix.*`` admits every field under it)."""
    exact = {a for a in allowed if not a.endswith("*")}
    prefixes = tuple(a[:-1] for a in allowed if a.endswith("*"))
    return all(f in exact or (prefixes and f.startswith(prefixes)) for f in fields)


@dataclass(frozen=True)
class ShapeRule:
    """One entry of the reviewed list: a family of shapes and what serves it.

    A recorded shape belongs to the entry when database, collection and operation match, its
    sort is one of ``sorts``, its equalities are ``eq`` plus any of ``optional``, and its
    range, other and ``$or`` fields are among ``range``/``other``/``any_of`` (or ``optional``).
    ``scan`` (a reason) marks a deliberate collection scan; otherwise an index of the
    service must serve ``eq`` + each sort by the equality–sort–range rule, ``optional``
    fields being residual filters.
    """

    db: str
    collection: str
    ops: tuple[str, ...]
    eq: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    range: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    sorts: tuple[tuple[tuple[str, int], ...], ...] = ((),)
    scan: str | None = None
    note: str | None = None
    # The ``$or`` branches are the selective part (a duplicate check by name, phone or
    # email): each ``any_of`` field, with ``eq``, needs an index of its own.
    each_branch: bool = False
    # A reason to sort the (bounded) matches in memory: the index must then bound the
    # filter by its equalities and its first range field instead of serving the sort.
    sort_in_memory: str | None = None
    # A rooted ``$or`` (no equality beside it): each branch (its equalities and ranges, with
    # ``eq``) needs an index of its own, as MongoDB plans every branch on its own.
    branches: tuple[Branch, ...] = ()

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ShapeRule:
        return ShapeRule(
            db=data["db"],
            collection=data["collection"],
            ops=tuple(data["ops"]),
            eq=tuple(data.get("eq", ())),
            optional=tuple(data.get("optional", ())),
            range=tuple(data.get("range", ())),
            other=tuple(data.get("other", ())),
            any_of=tuple(data.get("any_of", ())),
            sorts=tuple(
                tuple((path, int(direction)) for path, direction in sort)
                for sort in data.get("sorts", [[]])
            ),
            scan=data.get("scan"),
            note=data.get("note"),
            each_branch=bool(data.get("each_branch", False)),
            sort_in_memory=data.get("sort_in_memory"),
            branches=tuple(
                Branch(eq=tuple(b.get("eq", ())), range=tuple(b.get("range", ())))
                for b in data.get("branches", ())
            ),
        )

    def matches(self, shape: QueryShape) -> bool:
        if (shape.db, shape.collection) != (self.db, self.collection) or shape.op not in self.ops:
            return False
        if shape.sort not in self.sorts:
            return False
        required = set(self.eq)
        if not required <= set(shape.eq):
            return False
        branch_fields = [f for b in shape.any_of for f in (*b.eq, *b.range, *b.other)]
        allowed_branch_fields = (
            *self.any_of,
            *self.optional,
            *(f for b in self.branches for f in (*b.eq, *b.range)),
        )
        return (
            _covered(sorted(set(shape.eq) - required), self.optional)
            and _covered(shape.range, (*self.range, *self.optional))
            and _covered(shape.other, (*self.other, *self.optional))
            and _covered(branch_fields, allowed_branch_fields)
        )

    def served_by(self, indexes: Sequence[IndexKeys]) -> list[tuple[tuple[str, int], ...]]:
        """The sorts of this entry that no index serves (empty: all served)."""
        equalities = [self.eq]
        if self.each_branch:
            equalities = [(*self.eq, field) for field in self.any_of]
        if self.sort_in_memory is not None:
            parts = [(self.eq, self.range)]
            if self.branches:
                parts = [((*self.eq, *b.eq), b.range) for b in self.branches]
            bounded = all(
                any(
                    {path for path, _ in keys[: len(eq)]} == set(eq)
                    and len(keys) > len(eq)
                    and keys[len(eq)][0] in range_
                    for keys in indexes
                )
                for eq, range_ in parts
            )
            return [] if bounded else list(self.sorts)
        return [
            sort
            for sort in self.sorts
            if not all(
                esr_fit(
                    QueryShape(
                        self.db, self.collection, self.ops[0], eq=eq, range=self.range, sort=sort
                    ),
                    indexes,
                )
                for eq in equalities
            )
        ]


def draft_rule(shape: QueryShape) -> dict[str, Any]:
    """A list entry for a recorded shape nobody has reviewed yet (to paste and review)."""
    return {
        "db": shape.db,
        "collection": shape.collection,
        "ops": [shape.op],
        "eq": list(shape.eq),
        "range": list(shape.range),
        "other": list(shape.other),
        "any_of": sorted({f for b in shape.any_of for f in (*b.eq, *b.range, *b.other)}),
        "sorts": [[[path, direction] for path, direction in shape.sort]],
    }
