"""Customer benchmarks (``make bench-customer``), in process against a real FerretDB/MongoDB:

1. bulk import of a 100,000-row CSV, end to end from the stored file (parse, validate, dedupe
   against existing customers, numbered batch inserts with their outbox events): rows/s;
2. customer list (filter + sort + page of 50, with totalCount) over 200,000 customers, timed at
   the use case (what the subgraph resolver calls): p50/p99.

It starts its own FerretDB (``var/bin/ferretdb-local``, built by ``scripts/infra.sh build``) on
``BENCH_MONGO_PORT`` (default 27217) with a throwaway data directory, unless ``MONGODB_URI`` is
set. Kafka is not needed: events stay in the outbox. ``BENCH_ROWS`` scales it down for a smoke run.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymongo import AsyncMongoClient

from crm_common.auth import Principal, Role
from crm_common.graphql.filters import EnumFilter, StringFilter
from crm_common.mongo import ensure_indexes
from crm_common.pagination import PageRequest
from crm_customer.adapters.files import GridFSFileStore
from crm_customer.adapters.jobs import JOB_INDEXES, MongoImportJobRepository
from crm_customer.adapters.mongo import INDEXES, MongoCustomerRepository, ensure_query_indexes
from crm_customer.api.types import CustomerFilter
from crm_customer.domain.customer import Urgency
from crm_customer.domain.files import FileKind
from crm_customer.domain.regions import PROVINCES
from crm_customer.service.customers import CustomerService
from crm_customer.service.files import FileService
from crm_customer.service.imports import ImportService
from crm_customer.service.ports import ListQuery
from crm_customer.service.tables import TableFormat

REPO = Path(__file__).resolve().parents[3]
ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
LIST_SAMPLES = int(os.environ.get("BENCH_LIST_SAMPLES", "50"))


def make_csv(rows: int, offset: int) -> bytes:
    rng = random.Random(offset)  # noqa: S311 - test data, not secrets
    provinces = list(PROVINCES)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "industry", "province", "city", "urgency", "tags", "employees",
                     "contact_name", "contact_phone", "contact_email"])  # fmt: skip
    for i in range(offset, offset + rows):
        writer.writerow([
            f"Bench Company {i:07d} Co., Ltd.", rng.choice(["retail", "tea", "software"]),
            rng.choice(provinces), f"City {i % 50}", rng.choice(list(Urgency)).value,
            rng.choice(["vip", "a;b", ""]), rng.randint(1, 5000), f"Contact {i}",
            f"139{i:08d}", f"c{i}@bench.example",
        ])  # fmt: skip
    return out.getvalue().encode()


def start_ferretdb(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    binary = REPO / "var" / "bin" / "ferretdb-local"
    if not binary.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "infra.sh"), "build"], check=True)  # noqa: S603, S607
    return subprocess.Popen(  # noqa: S603
        [str(binary), "-listen", f"127.0.0.1:{port}", "-data", f"{data_dir}/",
         "-log-level", "error"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(uri: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
    for attempt in range(50):
        try:
            await client.admin.command("ping")
            break
        except Exception:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    db = client["crm_customer_bench"]
    await client.drop_database("crm_customer_bench")
    await ensure_indexes(db, {**INDEXES, **JOB_INDEXES})
    await ensure_query_indexes(db)  # as the service does: none on FerretDB
    tenant = "bench"
    admin = Principal("bench-admin", tenant, roles=frozenset({Role.ADMIN}), team="bench")
    customers = MongoCustomerRepository(db, tenant)
    files = FileService(admin, customers, GridFSFileStore(db, tenant))
    imports = ImportService(
        admin, customers, MongoImportJobRepository(db, tenant), files, lambda: None
    )

    rates = []
    for part in range(2):  # two files: the second one also dedupes against the first
        data = make_csv(ROWS, part * ROWS)
        stored = await files.upload(FileKind.IMPORT, "bench.csv", "text/csv", data, None)
        started = time.perf_counter()
        job = await imports.run_to_end(stored.id, TableFormat.CSV, None, False)
        seconds = time.perf_counter() - started
        assert job.status == "DONE", job
        assert job.created == ROWS, job
        rates.append(ROWS / seconds)
        print(
            f"import {ROWS} rows (file {part + 1}): {seconds:.1f}s = {ROWS / seconds:,.0f} rows/s",
            flush=True,
        )
        # What the outbox relay does once Kafka has the events (no relay runs here).
        started = time.perf_counter()
        await db["outbox"].delete_many({})
        print(f"outbox emptied in {time.perf_counter() - started:.1f}s", flush=True)

    service = CustomerService(admin, customers, lambda: None)
    query = ListQuery(order_field="name", descending=False)
    samples = []
    for i in range(LIST_SAMPLES):
        flt = CustomerFilter(
            urgency=EnumFilter(eq=list(Urgency)[i % 3]),
            industry=StringFilter(eq="tea"),
        )
        started = time.perf_counter()
        page = await service.list_customers(
            ListQuery(filter_input=flt, order_field=query.order_field, descending=False),
            PageRequest(first=50),
        )
        samples.append((time.perf_counter() - started) * 1000)
        assert len(page.items) == 50
    total = await db["customers"].count_documents({"tenant_id": tenant})
    print(
        f"list page of 50 (filter + sort + totalCount) over {total} customers: "
        f"p50 {statistics.median(samples):.0f} ms, p99 {percentile(samples, 0.99):.0f} ms "
        f"({LIST_SAMPLES} samples)",
        flush=True,
    )
    print(f"RESULT import_rows_per_s={min(rates):.0f} list_p99_ms={percentile(samples, 0.99):.0f}")
    await client.close()


def main() -> None:
    uri = os.environ.get("MONGODB_URI")
    process = None
    data_dir = Path(tempfile.mkdtemp(prefix="bench-customer-"))
    if not uri:
        port = int(os.environ.get("BENCH_MONGO_PORT", "27217"))
        process = start_ferretdb(port, data_dir)
        uri = f"mongodb://127.0.0.1:{port}/"
    try:
        asyncio.run(run(uri))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
