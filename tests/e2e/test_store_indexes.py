"""FerretDB on PostgreSQL serves the services' point reads and equality filters from indexes.

The services' own requests go through FerretDB; this test takes the SQL FerretDB sent for them
from ``pg_stat_statements`` (its exact text, with FerretDB's bind parameters), prepares it in
PostgreSQL and EXPLAINs it with the values of our filter, as FerretDB's custom plan sees them
(``plan_cache_mode=force_custom_plan``, set by scripts/infra.sh). ``enable_seqscan`` is off so
the answer does not depend on how many rows the e2e tables hold: a plan that still scans the
table has no index able to serve the query. Checked: a read by ``_id``, a read by ``_id`` and
``tenant_id`` (what every repository sends), a tenant filter, and an equality on a declared
field (customers' unique ``(tenant_id, number)``); and that updates by ``_id`` use an index.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import stack
from pymongo import MongoClient

pytestmark = [pytest.mark.e2e]

DATABASE = "crm_customer"
COLLECTION = "customers"


@pytest.fixture(scope="module")
def pg(live_stack: stack.StackConfig) -> Iterator[psycopg.Connection[Any]]:
    dsn = live_stack.postgres_dsn
    if dsn is None:
        pytest.skip("the store is not FerretDB on PostgreSQL (MONGODB_URI or CRM_LOCAL_STORE)")
    with psycopg.connect(dsn, autocommit=True) as con:
        yield con


def _table(con: psycopg.Connection[Any]) -> str:
    row = con.execute(
        f"SELECT _jsonb->>'table' FROM \"{DATABASE}\"._ferretdb_database_metadata "
        "WHERE _jsonb->'_id' = to_jsonb(%s::text)",
        (COLLECTION,),
    ).fetchone()
    assert row, "the customer service has not created its collection"
    return str(row[0])


def _sent_sql(con: psycopg.Connection[Any], table: str, verb: str, pairs: int) -> str:
    """The statement FerretDB sent for a filter of ``pairs`` pushed-down equalities."""
    target = f'"{DATABASE}"."{table}"'
    rows = con.execute(
        "SELECT query FROM pg_stat_statements WHERE query LIKE %s",
        (f"%{target}%",),
    ).fetchall()
    wanted = [
        str(query)
        for (query,) in rows
        if str(query).lstrip().startswith(verb)
        and len(re.findall(r"_jsonb->\$\d+ (?:@>|=) \$\d+", str(query))) == pairs
    ]
    assert wanted, f"FerretDB sent no {verb} with {pairs} equalities on {target}: {rows}"
    return min(wanted, key=len)


def _plan(con: psycopg.Connection[Any], query: str, args: list[str]) -> str:
    name = f"q_{secrets.token_hex(4)}"
    con.execute("SET plan_cache_mode = force_custom_plan")
    con.execute("SET enable_seqscan = off")
    try:
        con.execute(f"PREPARE {name} AS {query}")
        literals = ", ".join("'" + a.replace("'", "''") + "'" for a in args)
        lines = con.execute(f"EXPLAIN EXECUTE {name}({literals})").fetchall()
        con.execute(f"DEALLOCATE {name}")
    finally:
        con.execute("RESET enable_seqscan")
    return "\n".join(str(line[0]) for line in lines)


def _select_args(filter_: dict[str, str]) -> list[str]:
    """FerretDB's parameters for a pushed-down filter: field name, then the value as JSON."""
    args: list[str] = []
    for key, value in filter_.items():
        args += [key, json.dumps(value)]
    return args


@pytest.mark.parametrize(
    "make_filter",
    [
        pytest.param(lambda doc: {"_id": doc["_id"]}, id="point-read-by-id"),
        pytest.param(
            lambda doc: {"_id": doc["_id"], "tenant_id": doc["tenant_id"]}, id="id-and-tenant"
        ),
        pytest.param(lambda doc: {"tenant_id": doc["tenant_id"]}, id="tenant-filter"),
        pytest.param(
            lambda doc: {"tenant_id": doc["tenant_id"], "number": doc["number"]},
            id="declared-field-equality",
        ),
    ],
)
def test_reads_are_index_scans(
    live_stack: stack.StackConfig, pg: psycopg.Connection[Any], make_filter: Any
) -> None:
    tenant = f"explain-{secrets.token_hex(4)}"
    doc = {"_id": f"cus_{secrets.token_hex(6)}", "tenant_id": tenant, "number": "C-EXPLAIN-1"}
    with MongoClient[dict[str, Any]](live_stack.mongodb_uri) as client:
        collection = client[DATABASE][COLLECTION]
        collection.insert_one({**doc, "name_key": f"explain {tenant}"})
        try:
            filter_ = make_filter(doc)
            assert collection.find_one(filter_) is not None
            query = _sent_sql(pg, _table(pg), "SELECT", len(filter_))
            plan = _plan(pg, query, _select_args(filter_))
        finally:
            collection.delete_one({"_id": doc["_id"]})
    assert "Seq Scan" not in plan, plan
    assert "Index" in plan, plan
    assert "gin" in plan or "_idx" in plan, plan


def test_update_by_id_is_an_index_scan(
    live_stack: stack.StackConfig, pg: psycopg.Connection[Any]
) -> None:
    tenant = f"explain-{secrets.token_hex(4)}"
    doc = {"_id": f"cus_{secrets.token_hex(6)}", "tenant_id": tenant, "version": 1}
    with MongoClient[dict[str, Any]](live_stack.mongodb_uri) as client:
        collection = client[DATABASE][COLLECTION]
        collection.insert_one({**doc, "name_key": f"explain {tenant}", "number": tenant})
        try:
            result = collection.update_one(
                {"_id": doc["_id"], "version": 1, "tenant_id": tenant}, {"$set": {"version": 2}}
            )
            assert result.modified_count == 1
            # FerretDB finds the document (a pushed-down SELECT), then writes it back by _id:
            # UPDATE ... SET _jsonb = $1 WHERE _jsonb->$3 = $2 (its own btree _id index).
            query = _sent_sql(pg, _table(pg), "UPDATE", 1)
            plan = _plan(pg, query, ["{}", json.dumps(doc["_id"]), "_id"])
        finally:
            collection.delete_one({"_id": doc["_id"]})
    assert "Seq Scan" not in plan, plan
    assert "Index" in plan, plan
