"""GIN expression indexes that let FerretDB's PostgreSQL backend serve equality filters.

FerretDB 1.24 on PostgreSQL keeps each collection as a table of one ``_jsonb`` column and pushes
a top-level scalar equality down as ``_jsonb->'field' @> '<value>'`` (``_jsonb #> '{a,b}' @>``
for a dotted path; ``internal/backends/postgresql/query.go``, ``filterEqual``). The indexes its
own ``createIndexes`` makes are btree on ``((_jsonb->'field'))`` — btree has no ``@>``, so
PostgreSQL never uses them for these reads (the unique ``_id`` one does serve the
``_jsonb->'_id' = $2`` by which FerretDB's UPDATE and DELETE write a found document back).
A GIN index on the same expression serves ``@>``: we add one per field named in any index the
services declared, read from FerretDB's own metadata (each database schema's
``_ferretdb_database_metadata`` table), so the services' INDEXES stay the one list and nothing
here repeats it. ``jsonb_path_ops`` is the smaller GIN opclass and ``@>`` is all it must serve;
``fastupdate`` is off because a pending list filled by bulk inserts is scanned linearly by every
read until vacuum merges it (reads right after a 90k-document insert were 5-20x slower).
``_id`` gets one too.

The field name reaches PostgreSQL as a bind parameter; only a custom plan (infra.sh starts
PostgreSQL with ``plan_cache_mode=force_custom_plan``) sees the constant and can match these
expression indexes. ``$in``, ranges and sort are never pushed down by FerretDB 1.24: those
stay scans whatever the indexes.

Run by scripts/stack.py once the services have created their indexes (every start; existing
indexes are skipped), or by hand: ``python scripts/store_indexes.py postgresql://...``.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import psycopg
from psycopg import sql

METADATA_TABLE = "_ferretdb_database_metadata"


def index_expression(field: str) -> sql.Composable:
    """The expression FerretDB's pushed-down equality on ``field`` uses (after binding)."""
    parts = field.split(".")
    if len(parts) == 1:
        return sql.SQL("(_jsonb -> {})").format(sql.Literal(field))
    path = "{" + ",".join(parts) + "}"
    return sql.SQL("(_jsonb #> {}::text[])").format(sql.Literal(path))


def gin_index_name(table: str, field: str) -> str:
    digest = hashlib.sha256(f"{table}\0{field}".encode()).hexdigest()[:10]
    return f"{table[:40]}_gin_{digest}"


def declared_fields(con: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    """(schema, table, field) for every field of every index FerretDB knows of, plus _id."""
    schemas = [
        row[0]
        for row in con.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
            (METADATA_TABLE,),
        )
    ]
    found: set[tuple[str, str, str]] = set()
    for schema in schemas:
        rows = con.execute(
            sql.SQL("SELECT _jsonb->>'table', _jsonb->'indexes' FROM {}").format(
                sql.Identifier(schema, METADATA_TABLE)
            )
        )
        for table, indexes in rows:
            found.add((schema, table, "_id"))
            for index in indexes or []:
                for field in index.get("key", {}):
                    if not field.startswith("$"):
                        found.add((schema, table, field))
    return sorted(found)


def ensure_gin_indexes(dsn: str) -> list[str]:
    """Create the missing GIN indexes; returns the names of those created."""
    created: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as con:
        for schema, table, field in declared_fields(con):
            name = gin_index_name(table, field)
            exists = con.execute(
                "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
                (schema, name),
            ).fetchone()
            if exists:
                continue
            con.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON {} "
                    "USING gin ({} jsonb_path_ops) WITH (fastupdate = off)"
                ).format(
                    sql.Identifier(name),
                    sql.Identifier(schema, table),
                    index_expression(field),
                )
            )
            created.append(f"{schema}.{name} ({field})")
    return created


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: store_indexes.py postgresql://postgres@127.0.0.1:27018/ferretdb")
    for name in ensure_gin_indexes(sys.argv[1]):
        print(name)


if __name__ == "__main__":
    main()
