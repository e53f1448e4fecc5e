"""Customer benchmarks (``make bench-customer``), in process against a real FerretDB/MongoDB:

1. bulk import of a 100,000-row CSV, end to end from the stored file (parse, validate, dedupe
   against existing customers, numbered batch inserts with their outbox events): rows/s;
2. customer list (filter + sort + page of 50, with totalCount) over 200,000 customers, timed at
   the use case (what the subgraph resolver calls): p50/p99.

Beside the import it measures the raw store on the same documents in the same run: the first
file's 100,000 stored customers copied with plain ``insert_many`` (batches of 1,000) into an empty
collection with the same indexes (goal: import >= 0.7 x raw).

It starts its own store the way ``make run`` does (FerretDB on PostgreSQL, ``scripts/infra.sh``,
``BENCH_SLOT``, default 8, with a throwaway ``var/bench-customer-<slot>``), with the GIN indexes
of scripts/store_indexes.py, unless ``MONGODB_URI`` is set; the outbox relay publishes the
import's events to the stack's Kafka meanwhile, as in the service (``KAFKA_BOOTSTRAP_SERVERS``
with ``MONGODB_URI``; without, the events are deleted unpublished after each file).
``BENCH_ROWS`` scales it down for a smoke run.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.auth import Principal, Role
from crm_common.events.outbox import OutboxRelay, OutboxSignal
from crm_common.graphql.filters import EnumFilter, StringFilter
from crm_common.mongo import ensure_indexes
from crm_common.pagination import PageRequest
from crm_common.regions import PROVINCES
from crm_customer.adapters.files import GridFSFileStore
from crm_customer.adapters.jobs import JOB_INDEXES, MongoImportJobRepository
from crm_customer.adapters.mongo import INDEXES, MongoCustomerRepository, ensure_query_indexes
from crm_customer.api.types import CustomerFilter
from crm_customer.domain.customer import Urgency
from crm_customer.domain.files import FileKind
from crm_customer.service.customers import CustomerService
from crm_customer.service.files import FileService
from crm_customer.service.imports import ImportService
from crm_customer.service.ports import ListQuery
from crm_customer.service.tables import TableFormat

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import stack  # noqa: E402

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


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def raw_insert_rate(db: AsyncDatabase[dict[str, object]], tenant: str, rows: int) -> float:
    """Plain insert_many of the first ``rows`` stored customers into an empty collection with
    the same indexes: what the store itself does with the same documents."""
    # (batch_size: FerretDB may otherwise answer with one reply over the 48 MB message limit.)
    cursor = db["customers"].find({"tenant_id": tenant}, batch_size=1000).limit(rows)
    docs = [doc async for doc in cursor]
    raw = "customers_raw"
    await ensure_indexes(db, {raw: INDEXES["customers"]})
    if on_postgres:
        on_postgres()
    started = time.perf_counter()
    for start in range(0, len(docs), 1000):
        await db[raw].insert_many(docs[start : start + 1000], ordered=False)
    seconds = time.perf_counter() - started
    return len(docs) / seconds


on_postgres: Callable[[], None] | None = None


async def run(uri: str, kafka: str | None) -> None:
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
    if on_postgres:
        on_postgres()  # the GIN indexes, as scripts/stack.py adds them after the services start
    tenant = "bench"
    admin = Principal("bench-admin", tenant, roles=frozenset({Role.ADMIN}), team="bench")
    customers = MongoCustomerRepository(db, tenant)
    files = FileService(admin, customers, GridFSFileStore(db, tenant))
    # The outbox relay runs as in the service (publishing to the stack's Kafka and deleting
    # what it published), so the import pays for its events as it does in production.
    signal = OutboxSignal()
    relay = OutboxRelay(db, [], {}, kafka, signal) if kafka else None
    if relay is not None:
        await relay.start()
    imports = ImportService(
        admin, customers, MongoImportJobRepository(db, tenant), files, signal.notify
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
        started = time.perf_counter()
        # Every row's event and the job's summary, published by the relay (its counter: a
        # query of the outbox would itself read the whole backlog on FerretDB).
        expected = (part + 1) * (ROWS + 1)
        while relay is not None and relay.published < expected:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # the relay is busy publishing; see when it is done
        if relay is None:  # no broker: what the relay would do once Kafka has the events
            await db["outbox"].delete_many({})
        print(f"outbox drained {time.perf_counter() - started:.1f}s later", flush=True)
        if part == 0:
            raw = await raw_insert_rate(db, tenant, ROWS)
            print(
                f"raw insert_many of the same {ROWS} documents: {raw:,.0f} docs/s; "
                f"import / raw = {rates[0] / raw:.2f}",
                flush=True,
            )
            await db["customers_raw"].drop()

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
    print(
        f"RESULT import_rows_per_s={min(rates):.0f} raw_insert_docs_per_s={raw:.0f} "
        f"list_p99_ms={percentile(samples, 0.99):.0f}"
    )
    if relay is not None:
        await relay.stop()
    await client.close()


def main() -> None:
    global on_postgres
    uri = os.environ.get("MONGODB_URI")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    config = None
    if not uri:
        slot = int(os.environ.get("BENCH_SLOT", "8"))
        config = stack.StackConfig.for_slot(slot, REPO / "var" / f"bench-customer-{slot}")
        stack.infra(config, "down")
        shutil.rmtree(config.var_dir, ignore_errors=True)
        config.var_dir.mkdir(parents=True)
        stack.infra(config, "up")
        uri = f"mongodb://127.0.0.1:{config.mongo_port}/"
        os.environ.setdefault("MONGODB_STORE", "ferretdb")  # as scripts/stack.py tells services
        kafka = config.kafka_bootstrap
        stack.ensure_topics(config)
        started = config

        def gin() -> None:
            stack.ensure_store_indexes(started)  # nothing to do unless on PostgreSQL

        on_postgres = gin
    try:
        asyncio.run(run(uri, kafka))
    finally:
        if config is not None:
            stack.infra(config, "down")
            shutil.rmtree(config.var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
