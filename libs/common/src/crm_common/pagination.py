"""Relay cursor pagination over a sorted result (keyset: no skip, stable under inserts).

A cursor is the opaque, url-safe base64 of the sort-key values of one row plus its id, so the
next page starts strictly after that row whatever was inserted meanwhile. Pure functions: the
Mongo repository base builds its queries with them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from crm_common.errors import BadUserInput

T = TypeVar("T")
U = TypeVar("U")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class SortKey:
    path: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def __post_init__(self) -> None:
        # Relay allows both, but the result is ambiguous; every connection refuses it alike.
        if self.first is not None and self.last is not None:
            raise BadUserInput("give either first or last, not both", field="last")

    @property
    def backward(self) -> bool:
        return self.last is not None or (self.before is not None and self.first is None)

    @property
    def size(self) -> int:
        size = self.last if self.backward else self.first
        if size is None:
            return DEFAULT_PAGE_SIZE
        if size < 0 or size > MAX_PAGE_SIZE:
            field = "last" if self.backward else "first"
            raise BadUserInput(f"{field} must be between 0 and {MAX_PAGE_SIZE}", field=field)
        return size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[tuple[T, str]]  # (item, cursor)
    has_next_page: bool
    has_previous_page: bool
    total_count: int

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted (documents to domain models, say)."""
        return Page(
            items=[(convert(item), cursor) for item, cursor in self.items],
            has_next_page=self.has_next_page,
            has_previous_page=self.has_previous_page,
            total_count=self.total_count,
        )


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$dt"}:
        return datetime.fromisoformat(value["$dt"])
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, expected_len: int, field: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadUserInput("malformed cursor", field=field) from exc
    if not isinstance(values, list) or len(values) != expected_len:
        raise BadUserInput("cursor does not belong to this ordering", field=field)
    decoded = [_decode_value(v) for v in values]
    if any(isinstance(v, dict | list) for v in decoded):
        raise BadUserInput("malformed cursor", field=field)
    return decoded


def cursor_for(document: dict[str, Any], sort: list[SortKey]) -> str:
    return encode_cursor([_get_path(document, key.path) for key in sort])


def _get_path(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def keyset_condition(sort: list[SortKey], values: list[Any], *, after: bool) -> dict[str, Any]:
    """Rows strictly after (or before) the row whose sort values are ``values``.

    For sort (a, b, id): a > va OR (a = va AND b > vb) OR (a = va AND b = vb AND id > vid),
    with each comparison flipped for descending keys and for "before".
    """
    branches: list[dict[str, Any]] = []
    for i, key in enumerate(sort):
        branch: dict[str, Any] = {sort[j].path: values[j] for j in range(i)}
        later_is_greater = (not key.descending) == after
        branch[key.path] = {"$gt" if later_is_greater else "$lt": values[i]}
        branches.append(branch)
    return {"$or": branches}


def mongo_sort(sort: list[SortKey], *, reverse: bool = False) -> list[tuple[str, int]]:
    return [(key.path, (-1 if key.descending else 1) * (-1 if reverse else 1)) for key in sort]
