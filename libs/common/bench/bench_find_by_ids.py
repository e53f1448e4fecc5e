"""How a batch of ids is best read on FerretDB (``TenantRepository.find_by_ids``).

Raw PyMongo, one connection, customer-shaped documents of two tenants. For batches of 1, 10
and 50 ids it times (median of ``BENCH_REPEAT`` runs):

- ``in``:         ``find({_id: {$in: ids}, tenant_id})``           (what MongoDB is sent)
- ``or``:         ``find({$or: [{_id: a}, ...], tenant_id})``
- ``points_t``:   one ``find_one({_id, tenant_id})`` per id
- ``points``:     one ``find_one({_id})`` per id, tenant checked on the document
- ``repo``:       ``TenantRepository.find_by_ids`` as configured (``MONGODB_STORE``)

It starts its own FerretDB (``var/bin/ferretdb-local``) on ``BENCH_MONGO_PORT`` (default
27209) with a throwaway data directory, unless ``MONGODB_URI`` is set. ``BENCH_DOCS`` sets the
collection size (default 10,000).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from pymongo import AsyncMongoClient

from crm_common.mongo import Document, TenantRepository

REPO = Path(__file__).resolve().parents[3]
DOCS = int(os.environ.get("BENCH_DOCS", "10000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
TENANT, OTHER = "bench-a", "bench-b"


class _Customers(TenantRepository):
    collection_name: ClassVar[str] = "customers"


def _doc(i: int) -> Document:
    return {
        "_id": f"cus-{i:07d}",
        "tenant_id": TENANT if i % 2 == 0 else OTHER,
        "number": f"CUS20261204{i:05d}",
        "name": f"Customer {i} Trading Co., Ltd.",
        "name_key": f"customer {i} trading",
        "status": "lead",
        "industry": "retail",
        "region": {"province": "浙江省", "city": "杭州市"},
        "owner_id": f"rep-{i % 37}",
        "team": f"team-{i % 5}",
        "tags": ["key-account", "bench"],
        "contacts": [{"id": f"c{i}", "name": "Wang Wei", "phone": "13800000000"}],
        "version": 1,
        "history": [{"at": "2026-12-04", "change": "created"}] * 3,
    }


async def _median(run: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        await run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def bench(uri: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, maxPoolSize=1, tz_aware=True)
    db = client["bench_find_by_ids"]
    await client.drop_database(db.name)
    raw = db["customers"]
    for start in range(0, DOCS, 1000):
        await raw.insert_many([_doc(i) for i in range(start, min(DOCS, start + 1000))])
    mine = [f"cus-{i:07d}" for i in range(0, DOCS, 2)]
    rng = random.Random(7)  # noqa: S311 - sampling, not secrets
    repo = _Customers(db, TENANT)
    store = os.environ.get("MONGODB_STORE", "mongodb")
    print(f"{DOCS} docs, 1 connection, median of {REPEAT}, ms; repo: MONGODB_STORE={store}")
    print(f"{'ids':>4} {'in':>9} {'or':>9} {'points_t':>9} {'points':>9} {'repo':>9}")
    for size in (1, 10, 50):
        ids = rng.sample(mine, size)

        async def by_in(ids: list[str] = ids) -> None:
            found = [d async for d in raw.find({"_id": {"$in": ids}, "tenant_id": TENANT})]
            assert len(found) == len(ids)

        async def by_or(ids: list[str] = ids) -> None:
            query = {"$or": [{"_id": i} for i in ids], "tenant_id": TENANT}
            found = [d async for d in raw.find(query)]
            assert len(found) == len(ids)

        async def points_tenant(ids: list[str] = ids) -> None:
            for i in ids:
                assert await raw.find_one({"_id": i, "tenant_id": TENANT}) is not None

        async def points(ids: list[str] = ids) -> None:
            for i in ids:
                doc = await raw.find_one({"_id": i})
                assert doc is not None
                assert doc["tenant_id"] == TENANT

        async def by_repo(ids: list[str] = ids) -> None:
            assert len(await repo.find_by_ids(ids)) == len(ids)

        row = [await _median(f) for f in (by_in, by_or, points_tenant, points, by_repo)]
        print(f"{size:>4} " + " ".join(f"{t:>9.1f}" for t in row), flush=True)
    await client.drop_database(db.name)
    await client.close()


def main() -> None:
    uri = os.environ.get("MONGODB_URI")
    if uri:
        asyncio.run(bench(uri))
        return
    port = os.environ.get("BENCH_MONGO_PORT", "27209")
    data = Path(tempfile.mkdtemp(prefix="bench-find-by-ids-"))
    command = [str(REPO / "var/bin/ferretdb-local"), "-listen", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*command, "-data", f"{data}/", "-log-level", "error"])  # noqa: S603
    try:
        time.sleep(1.5)
        asyncio.run(bench(f"mongodb://127.0.0.1:{port}/"))
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
