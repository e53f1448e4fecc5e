from datetime import UTC, datetime

import pytest

from crm_common.errors import BadUserInput
from crm_common.pagination import (
    PageRequest,
    SortKey,
    cursor_for,
    decode_cursor,
    encode_cursor,
    keyset_condition,
    mongo_sort,
)


def test_cursor_round_trips_values_including_datetimes() -> None:
    when = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert decode_cursor(encode_cursor([when, "abc", 3]), 3, "after") == [when, "abc", 3]


@pytest.mark.parametrize("cursor", ["garbage!", encode_cursor(["a"]), "e30"])
def test_bad_cursors_are_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        decode_cursor(cursor, 2, "after")
    assert raised.value.field == "after"


def test_cursor_cannot_carry_operators() -> None:
    with pytest.raises(BadUserInput):
        decode_cursor(encode_cursor([{"$gt": ""}, "x"]), 2, "after")


def test_keyset_after_ascending_then_descending_tiebreak() -> None:
    sort = [SortKey("name"), SortKey("_id", descending=True)]
    assert keyset_condition(sort, ["b", "id9"], after=True) == {
        "$or": [{"name": {"$gt": "b"}}, {"name": "b", "_id": {"$lt": "id9"}}]
    }
    assert keyset_condition(sort, ["b", "id9"], after=False) == {
        "$or": [{"name": {"$lt": "b"}}, {"name": "b", "_id": {"$gt": "id9"}}]
    }


def test_mongo_sort_reverses_for_backward_pages() -> None:
    sort = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]
    assert mongo_sort(sort) == [("created_at", -1), ("_id", -1)]
    assert mongo_sort(sort, reverse=True) == [("created_at", 1), ("_id", 1)]


def test_cursor_for_reads_nested_paths() -> None:
    doc = {"_id": "c1", "region": {"province": "Zhejiang"}}
    cursor = cursor_for(doc, [SortKey("region.province"), SortKey("_id")])
    assert decode_cursor(cursor, 2, "after") == ["Zhejiang", "c1"]


def test_page_size_limits() -> None:
    assert PageRequest().size == 20
    assert PageRequest(last=5).backward and PageRequest(last=5).size == 5
    with pytest.raises(BadUserInput):
        _ = PageRequest(first=10_000).size
    with pytest.raises(BadUserInput):
        _ = PageRequest(first=-1).size


def test_first_and_last_together_are_refused_on_last() -> None:
    with pytest.raises(BadUserInput) as refused:
        PageRequest(first=5, last=5)
    assert refused.value.field == "last"
    assert PageRequest(first=5, before="c").size == 5  # first with before stays allowed
