from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import pytest
import strawberry

from crm_common.errors import BadUserInput
from crm_common.graphql.filters import (
    DateTimeFilter,
    EnumFilter,
    StringFilter,
    StringListFilter,
    to_mongo_filter,
)


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class ThingFilter:
    and_: list[ThingFilter] | None = strawberry.field(default=None, name="and")
    or_: list[ThingFilter] | None = strawberry.field(default=None, name="or")
    not_: ThingFilter | None = strawberry.field(default=None, name="not")
    name: StringFilter | None = None
    colour: EnumFilter[Colour] | None = None
    tags: StringListFilter | None = None
    created_at: DateTimeFilter | None = None


PATHS = {"name": "name", "colour": "colour", "tags": "tags", "created_at": "created_at"}


def test_operators_translate_to_mongo() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    query = to_mongo_filter(
        ThingFilter(
            name=StringFilter(neq="x", in_=["a", "b"]),
            colour=EnumFilter(in_=[Colour.RED]),
            created_at=DateTimeFilter(gte=since),
        ),
        PATHS,
    )
    assert query == {
        "$and": [
            {"name": {"$ne": "x", "$in": ["a", "b"]}},
            {"colour": {"$in": ["red"]}},
            {"created_at": {"$gte": since}},
        ]
    }


def test_text_search_is_escaped_so_regex_and_operators_stay_text() -> None:
    query = to_mongo_filter(ThingFilter(name=StringFilter(starts_with="a.*(")), PATHS)
    assert query == {"name": {"$regex": "^a\\.\\*\\(", "$options": "i"}}
    injected = to_mongo_filter(ThingFilter(name=StringFilter(eq='{"$where": "1"}')), PATHS)
    assert injected == {"name": {"$eq": '{"$where": "1"}'}}


def test_and_or_not_nest() -> None:
    query = to_mongo_filter(
        ThingFilter(
            or_=[ThingFilter(name=StringFilter(eq="a")), ThingFilter(name=StringFilter(eq="b"))],
            not_=ThingFilter(tags=StringListFilter(contains="vip")),
        ),
        PATHS,
    )
    assert query == {
        "$and": [
            {"$or": [{"name": {"$eq": "a"}}, {"name": {"$eq": "b"}}]},
            {"$nor": [{"tags": {"$eq": "vip"}}]},
        ]
    }


def test_is_null() -> None:
    assert to_mongo_filter(ThingFilter(name=StringFilter(is_null=True)), PATHS) == {"name": None}
    assert to_mongo_filter(ThingFilter(name=StringFilter(is_null=False)), PATHS) == {
        "name": {"$ne": None}
    }


def test_nesting_is_bounded() -> None:
    deep = ThingFilter(name=StringFilter(eq="x"))
    for _ in range(10):
        deep = ThingFilter(not_=deep)
    with pytest.raises(BadUserInput):
        to_mongo_filter(deep, PATHS)


def test_empty_filter_is_everything() -> None:
    assert to_mongo_filter(None, PATHS) == {}
    assert to_mongo_filter(ThingFilter(), PATHS) == {}
