"""Every query the services send is served by a declared index on MongoDB (or is a reviewed scan).

``tests/query_shapes.json`` is the reviewed list of query shapes: filter fields (equality,
``$in``, range, other), sort, per database and collection, recorded from the real services by
the e2e suite (``crm_common.query_shapes``; ``tests/e2e/test_zz_query_shapes.py`` fails on a
recorded shape the list does not hold). Here, without any server: every listed shape that is
not a deliberate scan has an index, among the ones the service declares, that follows the
equality–sort–range rule (equality fields first, ``tenant_id`` included; then the sort keys in
order, all directions as sorted or all reversed; then range fields). Keyset pages add an
``$or`` of ranges on the sort keys, which the same index serves (see the module docstring).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING

from crm_common.customers.copies import COPY_INDEXES, CUSTOMER_COPIES
from crm_common.pagination import SortKey, keyset_condition, mongo_sort
from crm_common.query_shapes import IndexKeys, QueryShape, ShapeRule, command_shapes, esr_fit
from tests.support.query_shapes import DECLARED, declared_keys, load_rules


def test_every_listed_shape_is_served_by_a_declared_index() -> None:
    unserved = []
    for rule in load_rules():
        if rule.scan is not None:
            continue
        keys = declared_keys(rule.db, rule.collection)
        missing = rule.served_by(keys)
        if missing:
            unserved.append(
                f"{rule.db}.{rule.collection} {list(rule.ops)} eq={list(rule.eq)} "
                f"range={list(rule.range)} sorts={[list(s) for s in missing]} indexes={keys}"
            )
    assert not unserved, "no ESR index for:\n" + "\n".join(unserved)


def test_every_deliberate_scan_says_why_and_names_a_known_collection() -> None:
    for rule in load_rules():
        assert rule.db in DECLARED, rule
        assert rule.collection in DECLARED[rule.db], f"{rule.db}.{rule.collection} undeclared"
        if rule.scan is not None:
            assert len(rule.scan) > 20, f"say why {rule.db}.{rule.collection} may scan"


# -- the rule itself -------------------------------------------------------------------------

_TENANT_NEWEST = [("tenant_id", 1), ("created_at", -1), ("_id", -1)]


def _shape(**kwargs: Any) -> QueryShape:
    return QueryShape(db="d", collection="c", op="find", **kwargs)


@pytest.mark.parametrize(
    ("shape", "keys", "served"),
    [
        # Equality, then sort (as sorted or all reversed).
        (_shape(eq=("tenant_id",), sort=(("created_at", -1), ("_id", -1))), _TENANT_NEWEST, True),
        (_shape(eq=("tenant_id",), sort=(("created_at", 1), ("_id", 1))), _TENANT_NEWEST, True),
        (_shape(eq=("tenant_id",), sort=(("created_at", -1), ("_id", 1))), _TENANT_NEWEST, False),
        # An equality the index does not lead with: the index scans the tenant, not the set.
        (
            _shape(eq=("owner_id", "tenant_id"), sort=(("created_at", -1), ("_id", -1))),
            _TENANT_NEWEST,
            False,
        ),
        # A sort key compared by equality is constant.
        (
            _shape(eq=("tenant_id", "created_at"), sort=(("created_at", -1), ("_id", -1))),
            [("tenant_id", 1), ("created_at", 1), ("_id", -1)],
            True,
        ),
        # Range after the sort keys (ESR), not before them (an in-memory sort).
        (
            _shape(eq=("tenant_id",), range=("due_at",), sort=(("created_at", -1),)),
            [("tenant_id", 1), ("due_at", 1), ("created_at", -1)],
            False,
        ),
        (_shape(eq=("status",), range=("valid_until",)), [("status", 1), ("valid_until", 1)], True),
        (_shape(range=("remind_at",)), [("remind_at", 1)], True),
        (_shape(range=("remind_at",)), [("status", 1), ("remind_at", 1)], False),
        # _id lookups need nothing declared.
        (_shape(eq=("_id", "tenant_id", "version")), [("other", 1)], True),
    ],
)
def test_equality_sort_range(shape: QueryShape, keys: IndexKeys, served: bool) -> None:
    assert esr_fit(shape, [keys]) is served


def test_a_keyset_page_is_the_shape_of_its_first_page() -> None:
    sort = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]
    base = {"tenant_id": "t", "owner_id": "u"}
    first = command_shapes(
        "crm_x", "find", {"find": "c", "filter": base, "sort": dict(mongo_sort(sort))}
    )
    later = command_shapes(
        "crm_x",
        "find",
        {
            "find": "c",
            "filter": {"$and": [base, keyset_condition(sort, ["2026-01-01", "id-9"], after=True)]},
            "sort": dict(mongo_sort(sort, reverse=True)),
        },
    )
    assert later[0].keyset and not first[0].keyset
    assert (later[0].eq, later[0].range, later[0].any_of) == (first[0].eq, (), ())
    assert later[0].sort == (("created_at", 1), ("_id", 1))


def test_shapes_of_the_commands_pymongo_sends() -> None:
    [update] = command_shapes(
        "crm_x",
        "update",
        {"update": "c", "updates": [{"q": {"_id": "a", "tenant_id": "t", "version": 3}}]},
    )
    assert update.eq == ("_id", "tenant_id", "version") and update.op == "update"
    [count] = command_shapes(
        "crm_x",
        "aggregate",
        {
            "aggregate": "c",
            "pipeline": [
                {"$match": {"tenant_id": "t", "status": {"$in": ["a", "b"]}, "n": {"$gte": 2}}},
                {"$group": {"_id": 1, "n": {"$sum": 1}}},
            ],
        },
    )
    assert (count.eq, count.range) == (("status", "tenant_id"), ("n",))
    [search] = command_shapes(
        "crm_x",
        "find",
        {"find": "c", "filter": {"tenant_id": "t", "$or": [{"a": 1}, {"b": {"$ne": 2}}]}},
    )
    assert sorted(json.dumps(b.as_json()) for b in search.any_of) == sorted(
        json.dumps(b)
        for b in ({"eq": ["a"], "range": [], "other": []}, {"eq": [], "range": [], "other": ["b"]})
    )
    assert command_shapes("crm_x", "insert", {"insert": "c", "documents": []}) == []


def test_an_or_beside_equalities_is_a_filter_on_their_index() -> None:
    shape = command_shapes(
        "crm_x",
        "find",
        {"find": "c", "filter": {"tenant_id": "t", "$or": [{"a": 1}, {"b": 2}]}},
    )[0]
    assert esr_fit(shape, [[("tenant_id", ASCENDING)]])
    rooted = command_shapes(
        "crm_x", "find", {"find": "c", "filter": {"$or": [{"a": 1}, {"b": 2}]}}
    )[0]
    assert not esr_fit(rooted, [[("a", ASCENDING)]])
    assert esr_fit(rooted, [[("a", ASCENDING)], [("b", DESCENDING)]])


def test_copies_are_declared_where_they_live() -> None:
    for db in ("crm_engagement", "crm_quoting", "crm_service_desk"):
        # The copy's own indexes first; a service may add some on its own fields (engagement:
        # the first touch of the 24-hour contact rule).
        assert DECLARED[db][CUSTOMER_COPIES][: len(COPY_INDEXES)] == COPY_INDEXES


def test_a_rooted_or_needs_an_index_per_branch() -> None:
    rule = ShapeRule.from_json(
        {
            "db": "d",
            "collection": "c",
            "ops": ["find"],
            "sorts": [[["a_due", 1]]],
            "branches": [
                {"eq": ["a_done"], "range": ["a_due"]},
                {"eq": ["b_done"], "range": ["b_due"]},
            ],
            "sort_in_memory": "the few due documents are sorted in memory",
        }
    )
    assert rule.served_by([[("a_due", 1)], [("b_due", 1)]])
    assert rule.served_by([[("a_done", 1), ("a_due", 1)]])
    assert not rule.served_by([[("a_done", 1), ("a_due", 1)], [("b_done", 1), ("b_due", 1)]])
