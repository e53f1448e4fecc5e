"""Typed filter inputs (``and``/``or``/``not`` + per-field operators) and their Mongo form.

Only declared fields and operators become Mongo operators; every client value is placed as a
value. A string such as ``"$where"`` or ``{"$ne": 1}`` smuggled into a value stays data, and
regular expressions are built from escaped text, so a filter can never inject an operator.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry

from crm_common.errors import BadUserInput

MAX_FILTER_DEPTH = 5
MAX_IN_VALUES = 500


@strawberry.input(description="Conditions on a text field; all given conditions must hold.")
class StringFilter:
    eq: str | None = strawberry.field(
        default=None, description="Exactly this text (case-sensitive)."
    )
    neq: str | None = strawberry.field(
        default=None, description="Anything but this text (case-sensitive); null values match."
    )
    in_: list[str] | None = strawberry.field(
        default=None, name="in", description="Exactly one of these texts (at most 500)."
    )
    starts_with: str | None = strawberry.field(default=None, description="Prefix, case-insensitive")
    contains: str | None = strawberry.field(default=None, description="Substring, case-insensitive")
    is_null: bool | None = strawberry.field(
        default=None, description="true: the field is empty (null); false: it has a value."
    )


@strawberry.input(description="Conditions on an id field.")
class IDFilter:
    eq: strawberry.ID | None = strawberry.field(default=None, description="Exactly this id.")
    neq: strawberry.ID | None = strawberry.field(default=None, description="Any id but this one.")
    in_: list[strawberry.ID] | None = strawberry.field(
        default=None, name="in", description="One of these ids (at most 500)."
    )
    is_null: bool | None = strawberry.field(
        default=None, description="true: no id is set (null); false: an id is set."
    )


@strawberry.input(description="Conditions on an integer field.")
class IntFilter:
    eq: int | None = strawberry.field(default=None, description="Equal to this number.")
    neq: int | None = strawberry.field(default=None, description="Not equal to this number.")
    in_: list[int] | None = strawberry.field(
        default=None, name="in", description="One of these numbers (at most 500)."
    )
    gt: int | None = strawberry.field(default=None, description="Greater than this number.")
    gte: int | None = strawberry.field(default=None, description="This number or greater.")
    lt: int | None = strawberry.field(default=None, description="Less than this number.")
    lte: int | None = strawberry.field(default=None, description="This number or less.")
    is_null: bool | None = strawberry.field(
        default=None, description="true: no number is set (null); false: a number is set."
    )


@strawberry.input(description="Conditions on a date-time field (ISO 8601, UTC).")
class DateTimeFilter:
    eq: datetime | None = strawberry.field(
        default=None, description="Exactly this instant (millisecond precision)."
    )
    gt: datetime | None = strawberry.field(default=None, description="Strictly after this instant.")
    gte: datetime | None = strawberry.field(default=None, description="At or after this instant.")
    lt: datetime | None = strawberry.field(
        default=None, description="Strictly before this instant."
    )
    lte: datetime | None = strawberry.field(default=None, description="At or before this instant.")
    is_null: bool | None = strawberry.field(
        default=None, description="true: no date is set (null); false: a date is set."
    )


@strawberry.input(description="Conditions on a boolean field.")
class BooleanFilter:
    eq: bool | None = strawberry.field(default=None, description="Equal to this value.")
    is_null: bool | None = strawberry.field(
        default=None, description="true: the value is unknown (null); false: it is set."
    )


E = TypeVar("E", bound=Enum)


@strawberry.input(description="Conditions on an enum field.")
class EnumFilter(Generic[E]):
    eq: E | None = strawberry.field(default=None, description="Exactly this value.")
    neq: E | None = strawberry.field(
        default=None, description="Any value but this one; null values match."
    )
    in_: list[E] | None = strawberry.field(
        default=None, name="in", description="One of these values (at most 500)."
    )
    is_null: bool | None = strawberry.field(
        default=None, description="true: no value is set (null); false: a value is set."
    )


@strawberry.input(description="Conditions on a list-of-text field (such as tags).")
class StringListFilter:
    contains: str | None = strawberry.field(default=None, description="Has this value")
    in_: list[str] | None = strawberry.field(
        default=None, name="in", description="Has any of these values"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool | datetime) or value is None:
        return value
    # GraphQL scalars only ever give the types above; anything else is refused, not trusted.
    raise BadUserInput("unsupported filter value")


def _operators(
    path: str, condition: Any, field: str, spell: Callable[[str], str] | None = None
) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    clauses: list[dict[str, Any]] = []
    for attr in dataclasses.fields(condition):
        raw = getattr(condition, attr.name)
        if raw is None:
            continue
        value = _plain(raw)
        if spell is not None and attr.name in ("eq", "neq"):
            value = spell(value)
        elif spell is not None and attr.name == "in_":
            value = [spell(v) for v in value]
        match attr.name:
            case "eq":
                ops["$eq"] = value
            case "neq":
                ops["$ne"] = value
            case "in_":
                if len(value) > MAX_IN_VALUES:
                    raise BadUserInput(f"at most {MAX_IN_VALUES} values in 'in'", field=field)
                ops["$in"] = value
            case "gt" | "gte" | "lt" | "lte":
                ops[f"${attr.name}"] = value
            case "contains" if isinstance(condition, StringListFilter):
                ops["$eq"] = value  # a list field equals a value when it contains it
            case "starts_with":
                clauses.append({path: {"$regex": "^" + re.escape(value), "$options": "i"}})
            case "contains":
                clauses.append({path: {"$regex": re.escape(value), "$options": "i"}})
            case "is_null":
                clauses.append({path: None} if value else {path: {"$ne": None}})
            case _:
                raise BadUserInput(f"unknown operator {attr.name}", field=field)
    result: dict[str, Any] = {}
    if ops:
        clauses.insert(0, {path: ops})
    if len(clauses) == 1:
        result = clauses[0]
    elif clauses:
        result = {"$and": clauses}
    return result


def to_mongo_filter(
    filter_input: Any,
    paths: Mapping[str, str],
    *,
    spellings: Mapping[str, Callable[[str], str]] | None = None,
    _depth: int = 0,
    _prefix: str = "filter",
) -> dict[str, Any]:
    """Translate a filter input object into a Mongo query over the declared ``paths``.

    ``paths`` maps the input's Python attribute names to document paths; ``and_``, ``or_`` and
    ``not_`` nest. Any other attribute is a programming error (a field without a path).
    ``spellings`` maps an attribute to the function that turns what a user may type into the
    stored spelling (e.g. "Zhejiang" -> "浙江省"), applied to exact comparisons (eq, neq, in).
    """
    if filter_input is None:
        return {}
    if _depth > MAX_FILTER_DEPTH:
        raise BadUserInput(f"filters nest at most {MAX_FILTER_DEPTH} levels", field=_prefix)
    clauses: list[dict[str, Any]] = []
    for attr in dataclasses.fields(filter_input):
        value = getattr(filter_input, attr.name)
        if value is None:
            continue
        field = f"{_prefix}.{attr.name.rstrip('_')}"
        if attr.name in ("and_", "or_"):
            subs = [
                sub
                for sub in (
                    to_mongo_filter(v, paths, spellings=spellings, _depth=_depth + 1, _prefix=field)
                    for v in value
                )
                if sub
            ]
            if subs:
                clauses.append({"$and" if attr.name == "and_" else "$or": subs})
        elif attr.name == "not_":
            sub = to_mongo_filter(
                value, paths, spellings=spellings, _depth=_depth + 1, _prefix=field
            )
            if sub:
                clauses.append({"$nor": [sub]})
        elif attr.name in paths:
            spell = (spellings or {}).get(attr.name)
            sub = _operators(paths[attr.name], value, field, spell)
            if sub:
                clauses.append(sub)
        else:
            raise KeyError(f"filter field {attr.name!r} has no document path")
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
