"""Import jobs with two replicas on the real store: a stale job is resumed by exactly one of
two replicas (each with its own one-connection client, like two processes on FerretDB), an
abandoned take-over claim does not block the job forever, and a live job whose batch is slow
is never taken from the replica running it (its heartbeat runs apart from the batches).
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from typing import Any

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import Crash, ReplicaDatabases, replica_databases

from crm_common.auth import Principal, Role
from crm_common.clock import utc_now
from crm_common.events.contracts.customer import CustomerCreated, CustomersImported
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_customer.adapters import mongo as customer_adapters
from crm_customer.adapters.files import GridFSFileStore
from crm_customer.adapters.jobs import (
    IMPORT_CLAIMS,
    JOB_INDEXES,
    MongoImportJobRepository,
    MongoStaleJobs,
)
from crm_customer.adapters.mongo import INDEXES, MongoCustomerRepository
from crm_customer.domain.files import FileKind
from crm_customer.service import imports as import_service
from crm_customer.service.files import FileService
from crm_customer.service.imports import ImportService, resume_stale_jobs, wait_for_job
from crm_customer.service.ports import ImportJob
from crm_customer.service.tables import TableFormat

pytestmark = [pytest.mark.e2e]

ROWS = 100


class CrashingJobs(MongoImportJobRepository):
    """Dies on the second progress write: the second batch is in, its progress is not."""

    writes = 0

    async def save_progress(self, job: ImportJob, events: Any = ()) -> bool:
        CrashingJobs.writes += 1
        if CrashingJobs.writes == 2:
            raise Crash
        return await super().save_progress(job, events)


class SlowCustomers(MongoCustomerRepository):
    """A batch that takes far longer than the (shortened) stale-heartbeat limit."""

    async def insert_numbered_many(
        self, day: date, builds: Sequence[Any], import_job_id: str | None = None
    ) -> list[Any]:
        await asyncio.sleep(2.5)
        return await super().insert_numbered_many(day, builds, import_job_id)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(
        infra.mongodb_uri, "imports", {**INDEXES, **JOB_INDEXES}
    ) as databases:
        yield databases


class Replica:
    def __init__(self, db: AsyncDatabase[Document], tenant: str) -> None:
        self.db = db
        self.user = Principal("importer", tenant, roles=frozenset({Role.SALES_REP}), team="n")
        self.files = FileService(
            self.user, MongoCustomerRepository(db, tenant), GridFSFileStore(db, tenant)
        )

    def service(
        self,
        principal: Principal,
        jobs: MongoImportJobRepository | None = None,
        customers: MongoCustomerRepository | None = None,
    ) -> ImportService:
        tenant = principal.tenant_id
        return ImportService(
            principal,
            customers or MongoCustomerRepository(self.db, tenant),
            jobs or MongoImportJobRepository(self.db, tenant),
            self.files,
            lambda: None,
        )


async def _upload(replica: Replica) -> str:
    rows = [["name", "industry"]] + [[f"Replica Co {n:03d}", "tea"] for n in range(ROWS)]
    stored = await replica.files.upload(FileKind.IMPORT, "r.csv", "text/csv", _csv(rows), None)
    return stored.id


async def test_two_replicas_noticing_a_stale_job_resume_it_once(
    replicas: ReplicaDatabases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_service, "BATCH", 40)
    CrashingJobs.writes = 0
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    a, b = Replica(db_a, tenant), Replica(db_b, tenant)
    file_id = await _upload(a)
    job = await a.service(a.user, jobs=CrashingJobs(db_a, tenant)).start(
        file_id, TableFormat.CSV, None, False
    )
    with pytest.raises(Crash):
        await wait_for_job(job.id)

    # A claim left by a replica that died before it took the job over: it must not block.
    later = utc_now() + timedelta(minutes=5)
    await db_a[IMPORT_CLAIMS].insert_one(
        {
            "_id": f"{job.id}:1",
            "tenant_id": tenant,
            "job_id": job.id,
            "attempt": 1,
            "holder": "dead",
            "claimed_at": utc_now() - timedelta(minutes=10),
        }
    )
    taken = await asyncio.gather(
        resume_stale_jobs(MongoStaleJobs(db_a), a.service, now=later),
        resume_stale_jobs(MongoStaleJobs(db_b), b.service, now=later),
    )
    assert sorted(len(t) for t in taken) == [0, 1]
    await wait_for_job(job.id)

    done = await MongoImportJobRepository(db_a, tenant).get(job.id)
    assert done is not None
    assert (done.status, done.processed, done.created, done.resumed) == ("DONE", ROWS, ROWS, 2)
    assert await db_a["customers"].count_documents({"tenant_id": tenant}) == ROWS
    # One claim per attempt: the dead one's, and the winner's (the loser's insert was refused).
    assert await db_a[IMPORT_CLAIMS].count_documents({"job_id": job.id}) == 2
    created = await db_a[OUTBOX_COLLECTION].count_documents(
        {"event.type": CustomerCreated.event_type, "event.tenant_id": tenant}
    )
    assert created == ROWS
    summaries = await db_a[OUTBOX_COLLECTION].count_documents(
        {"event.type": CustomersImported.event_type, "event.tenant_id": tenant}
    )
    assert summaries == 1


async def test_a_live_job_with_a_slow_batch_is_not_taken_over(
    replicas: ReplicaDatabases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_service, "BATCH", 50)
    monkeypatch.setattr(import_service, "HEARTBEAT_EVERY", timedelta(seconds=0.2))
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    a, b = Replica(db_a, tenant), Replica(db_b, tenant)
    file_id = await _upload(a)
    job = await a.service(a.user, customers=SlowCustomers(db_a, tenant)).start(
        file_id, TableFormat.CSV, None, False
    )
    running = asyncio.ensure_future(wait_for_job(job.id))
    looks = 0
    while not running.done():
        # b looks with a 1 s stale limit while each of a's batches takes 2.5 s.
        assert (
            await resume_stale_jobs(
                MongoStaleJobs(db_b), b.service, stale_after=timedelta(seconds=1)
            )
            == []
        )
        looks += 1
        await asyncio.sleep(0.3)
    await running
    assert looks > 5
    done = await MongoImportJobRepository(db_a, tenant).get(job.id)
    assert done is not None
    assert (done.status, done.created, done.resumed) == ("DONE", ROWS, 0)


async def test_a_crash_between_the_customers_and_their_events_loses_no_event(
    replicas: ReplicaDatabases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import writes a batch's customers first and their events after
    (`events_after_write`): dying in between, the resumed job announces that batch again."""
    monkeypatch.setattr(import_service, "BATCH", 40)
    record_events = customer_adapters.events_after_write
    calls = 0

    async def dies_on_the_second_batch(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash  # the second batch's customers are in, its events are not
        await record_events(*args, **kwargs)

    monkeypatch.setattr(customer_adapters, "events_after_write", dies_on_the_second_batch)
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    a, b = Replica(db_a, tenant), Replica(db_b, tenant)
    job = await a.service(a.user).start(await _upload(a), TableFormat.CSV, None, False)
    with pytest.raises(Crash):
        await wait_for_job(job.id)
    in_outbox = {"event.type": CustomerCreated.event_type, "event.tenant_id": tenant}
    assert await db_a[OUTBOX_COLLECTION].count_documents(in_outbox) == 40  # batch 1 only

    later = utc_now() + timedelta(minutes=5)
    taken = await resume_stale_jobs(MongoStaleJobs(db_b), b.service, now=later)
    assert len(taken) == 1
    await wait_for_job(job.id)
    done = await MongoImportJobRepository(db_a, tenant).get(job.id)
    assert done is not None
    assert (done.status, done.created) == ("DONE", ROWS)
    customers = {doc["_id"] async for doc in db_a["customers"].find({"tenant_id": tenant})}
    announced = [
        doc["event"]["data"]["customer_id"] async for doc in db_a[OUTBOX_COLLECTION].find(in_outbox)
    ]
    assert len(customers) == ROWS
    assert sorted(announced) == sorted(customers)  # every customer once
