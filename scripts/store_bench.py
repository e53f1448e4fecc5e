"""Raw-store point operations and concurrency, PyMongo straight to the store (no services).

    python scripts/store_bench.py point --mongo-uri mongodb://127.0.0.1:27197/ \
        --pg-dsn postgresql://postgres@127.0.0.1:27198/ferretdb --sizes 1000,10000,100000
    python scripts/store_bench.py concurrency --mongo-uri mongodb://127.0.0.1:27197/

``point``: customer-shaped documents (the customer service's declared indexes, GIN indexes
from scripts/store_indexes.py when ``--pg-dsn`` names FerretDB's PostgreSQL) grown to each
size, then p50/p99 of ``find_one({_id})``, ``find_one({_id, tenant_id})`` and
``update_one({_id, version, tenant_id})`` over one connection. Each operation is sampled up to
``--samples`` times or ``--budget-s`` seconds, whichever comes first (SQLite at 100k takes
seconds per operation). ``concurrency``: 100 concurrent ``$inc`` of one document and 100
concurrent conditional updates on ``version`` over 1 and 8 connections, and N concurrent
updates of distinct documents over N connections (does anything hang?). Loopback only, bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pymongo import AsyncMongoClient, MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_indexes import ensure_gin_indexes

from crm_customer.adapters.mongo import INDEXES

DB = "store_bench"
RNG = random.Random(20)  # noqa: S311 - bench data, not secrets
TENANT = "bench"


def customer(i: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "_id": f"cus_{i:08d}",
        "tenant_id": TENANT,
        "number": f"C20261204{i:06d}",
        "name": f"Customer {i} Trading Co., Ltd.",
        "name_key": f"customer {i} trading",
        "status": RNG.choice(["LEAD", "INTENTION", "DEAL", "LOST"]),
        "industry": RNG.choice(["retail", "manufacturing", "software", "logistics"]),
        "source": "import",
        "region": {"country": "CN", "province": "Zhejiang", "city": "Hangzhou"},
        "tags": ["key-account", f"t{i % 7}"],
        "owner_id": f"user_{i % 50}",
        "team": f"team_{i % 5}",
        "contacts": [
            {
                "name": f"Contact {i}",
                "phone": f"+86138{i:08d}",
                "phone_key": f"86138{i:08d}",
                "email": f"c{i}@example.com",
                "email_key": f"c{i}@example.com",
                "primary": True,
            }
        ],
        "notes": "x" * 200,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def prepare(uri: str, pg_dsn: str | None) -> None:
    with MongoClient[dict[str, Any]](uri) as client:
        client.drop_database(DB)
        for model in INDEXES["customers"]:
            client[DB].customers.create_indexes([model])
    if pg_dsn:
        ensure_gin_indexes(pg_dsn)


def grow(uri: str, start: int, size: int) -> float:
    started = time.perf_counter()
    with MongoClient[dict[str, Any]](uri) as client:
        for offset in range(start, size, 1000):
            client[DB].customers.insert_many(
                [customer(i) for i in range(offset, min(size, offset + 1000))]
            )
    return (size - start) / (time.perf_counter() - started)


def sample(op: Callable[[int], Any], size: int, samples: int, budget_s: float) -> list[float]:
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < samples and (len(times) < 3 or time.perf_counter() < deadline):
        i = RNG.randrange(size)
        started = time.perf_counter()
        op(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _table(con: psycopg.Connection[Any]) -> sql.Identifier:
    row = con.execute(
        sql.SQL("SELECT _jsonb->>'table' FROM {} WHERE _jsonb->>'_id' = 'customers'").format(
            sql.Identifier(DB, "_ferretdb_database_metadata")
        )
    ).fetchone()
    assert row
    return sql.Identifier(DB, str(row[0]))


def pg_reset(dsn: str | None) -> None:
    if dsn:
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute("SELECT pg_stat_statements_reset()")


def pg_ms_per_op(dsn: str | None, ops: int) -> str:
    """PostgreSQL's own execution time per operation (all statements on the bench table)."""
    if not dsn:
        return "-"
    with psycopg.connect(dsn, autocommit=True) as con:
        row = con.execute(
            "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements WHERE query LIKE %s",
            (f'%"{DB}".%',),
        ).fetchone()
    return f"{float(row[0] if row else 0) / ops:.3f}"


def point(args: argparse.Namespace) -> None:
    prepare(args.mongo_uri, args.pg_dsn)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{args.label}\n| size | op | n | p50 ms | p99 ms | ops/s at p50 | PG exec ms/op |")
    have = 0
    with MongoClient[dict[str, Any]](args.mongo_uri, maxPoolSize=1) as client:
        coll = client[DB].customers
        versions: dict[int, int] = {}
        for size in sizes:
            rate = grow(args.mongo_uri, have, size)
            have = size
            if args.pg_dsn:
                # What autovacuum does after 10% of a table changed: the planner's statistics
                # for the indexed expressions (without them it may AND the tenant GIN index
                # into an _id lookup: measured 1.4-1.7 ms of PostgreSQL time at 10k).
                with psycopg.connect(args.pg_dsn, autocommit=True) as con:
                    con.execute(sql.SQL("ANALYZE {}").format(_table(con)))
            print(f"| {size} | insert_many 1000/batch | {size} | | | {rate:.0f} docs/s |")
            coll.find_one({"_id": "warm"})

            def update(i: int) -> None:
                v = versions.get(i, 1)
                result = coll.update_one(
                    {"_id": f"cus_{i:08d}", "version": v, "tenant_id": TENANT},
                    {"$set": {"version": v + 1, "updated_at": datetime.now(UTC)}},
                )
                assert result.modified_count == 1, (i, v)
                versions[i] = v + 1

            ops: dict[str, Callable[[int], Any]] = {
                "find_one({_id})": lambda i: coll.find_one({"_id": f"cus_{i:08d}"}),
                "find_one({_id, tenant_id})": lambda i: coll.find_one(
                    {"_id": f"cus_{i:08d}", "tenant_id": TENANT}
                ),
                "update_one({_id, version, tenant_id})": update,
            }
            for name, op in ops.items():
                pg_reset(args.pg_dsn)
                times = sample(op, size, args.samples, args.budget_s)
                p50 = statistics.median(times)
                p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)]
                print(
                    f"| {size} | `{name}` | {len(times)} | {p50:.2f} | {p99:.2f} | "
                    f"{1000 / p50:.0f} | {pg_ms_per_op(args.pg_dsn, len(times))} |",
                    flush=True,
                )


async def _gather_bounded(
    calls: list[Callable[[], Awaitable[Any]]], timeout_s: float
) -> tuple[list[Any], bool]:
    tasks = [asyncio.ensure_future(call()) for call in calls]
    done, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
    return [t.result() for t in done if not t.exception()], bool(pending)


async def concurrency(args: argparse.Namespace) -> None:
    with MongoClient[dict[str, Any]](args.mongo_uri) as client:
        client.drop_database(DB)
        client[DB].counters.insert_many(
            [{"_id": f"d{i}", "n": 0, "version": 0} for i in range(200)]
        )
    for pool in (1, 8):
        client2: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            args.mongo_uri, maxPoolSize=pool
        )
        coll = client2[DB].counters
        await coll.update_one({"_id": "d0"}, {"$set": {"n": 0, "version": 0}})
        started = time.perf_counter()
        results, hung = await _gather_bounded(
            [partial(coll.update_one, {"_id": "d0"}, {"$inc": {"n": 1}}) for _ in range(100)],
            args.timeout_s,
        )
        doc = await coll.find_one({"_id": "d0"})
        acked = sum(r.modified_count for r in results)
        print(
            f"pool {pool}: 100 x $inc -> acknowledged {acked}, applied {doc and doc['n']}, "
            f"hung {hung}, {time.perf_counter() - started:.2f}s",
            flush=True,
        )
        started = time.perf_counter()
        results, hung = await _gather_bounded(
            [
                partial(coll.update_one, {"_id": "d0", "version": 0}, {"$set": {"version": 1}})
                for _ in range(100)
            ],
            args.timeout_s,
        )
        await coll.update_one({"_id": "d0"}, {"$set": {"version": 0}})
        winners = sum(r.modified_count for r in results)
        print(
            f"pool {pool}: 100 x update_one({{_id, version: 0}}) -> {winners} winner(s) "
            f"(1 is right), hung {hung}, {time.perf_counter() - started:.2f}s",
            flush=True,
        )
        await client2.close()
    for n in args.parallel:
        client3: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(args.mongo_uri, maxPoolSize=n)
        coll = client3[DB].counters
        started = time.perf_counter()
        results, hung = await _gather_bounded(
            [
                partial(coll.update_one, {"_id": f"d{k % 200}"}, {"$inc": {"n": 1}})
                for k in range(n * 4)
            ],
            args.timeout_s,
        )
        print(
            f"{n} connections: {n * 4} x $inc of distinct documents -> completed {len(results)}, "
            f"hung {hung}, {time.perf_counter() - started:.2f}s",
            flush=True,
        )
        await client3.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["point", "concurrency"])
    parser.add_argument("--mongo-uri", required=True)
    parser.add_argument("--pg-dsn", help="FerretDB's PostgreSQL: create the GIN indexes")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--budget-s", type=float, default=20.0)
    parser.add_argument("--label", default="")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--parallel", type=lambda s: [int(x) for x in s.split(",")], default=[50])
    args = parser.parse_args()
    if args.mode == "point":
        point(args)
    else:
        asyncio.run(concurrency(args))


if __name__ == "__main__":
    main()
