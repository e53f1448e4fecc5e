"""Import leftovers: custom fields mapped from columns (through the gateway), and a job
whose process died mid-import resuming in another one (in process, against the real
database of the e2e stack)."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
import stack

from crm_common.auth import Principal, Role
from crm_common.clock import utc_now
from crm_common.mongo import create_client, ensure_indexes
from crm_customer.adapters.files import GridFSFileStore
from crm_customer.adapters.jobs import JOB_INDEXES, MongoImportJobRepository, MongoStaleJobs
from crm_customer.adapters.mongo import INDEXES, MongoCustomerRepository
from crm_customer.domain.files import FileKind
from crm_customer.service import imports as import_service
from crm_customer.service.files import FileService
from crm_customer.service.imports import ImportService, resume_stale_jobs, wait_for_job
from crm_customer.service.ports import ImportJob
from crm_customer.service.tables import TableFormat
from tests.e2e.client import eventually, new_tenant
from tests.e2e.test_customer_custom_fields import DEFINE
from tests.e2e.test_customer_files import IMPORT, JOB, Session
from tests.e2e.test_customer_profile import MERGE, UPDATE, create

pytestmark = [pytest.mark.e2e]

LISTED = """
query($filter: CustomerFilter) {
  customers(first: 50, filter: $filter) {
    totalCount edges { node { name customFields { key value } } }
  }
}
"""


def table(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def test_custom_fields_are_mapped_from_columns(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = Session(live_stack, tenant, ["admin"], "boss")
    for field in (
        {"key": "seats", "label": "Seats", "type": "NUMBER"},
        {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
        {"key": "channels", "label": "Ch", "type": "MULTI_SELECT", "options": ["web", "mail"]},
        {"key": "vip", "label": "VIP", "type": "BOOL", "required": True},
    ):
        (await admin.gql.execute(DEFINE, {"input": field})).ok()
    data = table(
        [
            ["Company", "Seats", "Level", "Channels", "VIP"],
            ["Mapped One", "12", "gold", "web;mail", "yes"],
            ["Mapped Two", "", "silver", "", "no"],
            ["Bad Seats", "many", "gold", "", "yes"],
            ["Bad Tier", "3", "bronze", "", "yes"],
            ["No Vip", "3", "gold", "", ""],
        ]
    )
    uploaded = await admin.upload(data, "text/csv", kind="IMPORT", filename="cf.csv")
    assert uploaded.status_code == 201, uploaded.text
    mapping = [
        {"column": "Company", "field": "NAME"},
        {"column": "Seats", "customField": "seats"},
        {"column": "Level", "customField": "tier"},
        {"column": "Channels", "customField": "channels"},
        {"column": "VIP", "customField": "vip"},
    ]
    request: dict[str, Any] = {"fileId": uploaded.json()["id"], "format": "CSV"}

    # Mapping to an undefined field, or a column mapped to both kinds, is refused outright.
    for bad in (
        [*mapping, {"column": "Level", "customField": "nope"}],
        [{"column": "Company", "field": "NAME", "customField": "tier"}],
    ):
        refused = await admin.gql.execute(IMPORT, {"input": {**request, "mapping": bad}})
        assert refused.error_codes() == ["BAD_USER_INPUT"]

    dry = (await admin.gql.execute(IMPORT, {"input": {**request, "mapping": mapping}})).ok()
    report = dry["importCustomers"]
    assert (report["total"], report["valid"]) == (5, 2)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "customFields.seats"),
        (4, "customFields.tier"),
        (5, "customFields.vip"),
    ]
    assert (await admin.gql.execute(LISTED, {})).ok()["customers"]["totalCount"] == 0

    started = await admin.gql.execute(
        IMPORT, {"input": {**request, "mapping": mapping, "dryRun": False}}
    )
    job_id = started.ok()["importCustomers"]["job"]["id"]

    async def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = (await admin.gql.execute(JOB, {"id": job_id})).ok()["importJob"]
        return job if job["status"] != "RUNNING" else None

    job = await eventually(finished, timeout_s=60)
    assert (job["status"], job["created"], job["failed"]) == ("DONE", 2, 3)
    listed = (await admin.gql.execute(LISTED, {})).ok()["customers"]["edges"]
    by_name = {
        n["node"]["name"]: {f["key"]: f["value"] for f in n["node"]["customFields"]} for n in listed
    }
    assert by_name == {
        "Mapped One": {"seats": 12, "tier": "gold", "channels": ["web", "mail"], "vip": True},
        "Mapped Two": {"tier": "silver", "vip": False},
    }


async def test_import_dedupe_follows_renames_and_merges(live_stack: stack.StackConfig) -> None:
    """The taken-names set the import reads (name claims) follows renames and merges."""
    tenant = new_tenant()
    admin = Session(live_stack, tenant, ["admin"], "boss")
    renamed = await create(admin.gql, "Old Name Co")
    (await admin.gql.execute(UPDATE, {"input": {"id": renamed["id"], "name": "New Name Co"}})).ok()
    kept = await create(admin.gql, "Kept Co")
    gone = await create(admin.gql, "Gone Co")
    merge = {"keepId": kept["id"], "mergeId": gone["id"]}
    (await admin.gql.execute(MERGE, {"input": merge})).ok()
    data = table([["name"], ["Old Name Co"], ["New Name Co"], ["Kept Co"], ["Gone Co"]])
    uploaded = await admin.upload(data, "text/csv", kind="IMPORT", filename="d.csv")
    request = {"fileId": uploaded.json()["id"], "format": "CSV"}
    dry = await admin.gql.execute(IMPORT, {"input": request})
    report = dry.ok()["importCustomers"]
    assert (report["total"], report["valid"], report["duplicates"]) == (4, 4, 2)


class Crash(BaseException):
    """Stands in for the process dying: not an `Exception`, so the job cannot record it."""


class CrashingJobs(MongoImportJobRepository):
    """Dies on the second progress write: the second batch is in, its progress is not."""

    writes = 0

    async def save_progress(self, job: ImportJob, events: Any = ()) -> bool:
        CrashingJobs.writes += 1
        if CrashingJobs.writes == 2:
            raise Crash
        return await super().save_progress(job, events)


async def test_an_interrupted_import_job_resumes_once_without_duplicates(
    live_stack: stack.StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_service, "BATCH", 40)
    # One connection, like the services on FerretDB (see `create_client`).
    client = create_client(live_stack.mongodb_uri, "resume-test", max_pool_size=1)
    db = client[f"resume_{uuid.uuid4().hex[:8]}"]
    try:
        await ensure_indexes(db, {**INDEXES, **JOB_INDEXES})
        tenant = new_tenant()
        user = Principal("importer", tenant, roles=frozenset({Role.SALES_REP}), team="north")
        customers = MongoCustomerRepository(db, tenant)
        files = FileService(user, customers, GridFSFileStore(db, tenant))
        rows = [["name", "industry"]] + [[f"Resumed Co {n:03d}", "tea"] for n in range(100)]
        rows.append(["Resumed Co 007", "tea"])  # a duplicate within the file
        stored = await files.upload(FileKind.IMPORT, "r.csv", "text/csv", table(rows), None)

        def service(principal: Principal, jobs: MongoImportJobRepository) -> ImportService:
            return ImportService(
                principal, MongoCustomerRepository(db, tenant), jobs, files, lambda: None
            )

        dying = service(user, CrashingJobs(db, tenant))
        job = await dying.start(stored.id, TableFormat.CSV, None, False)
        with pytest.raises(Crash):
            await wait_for_job(job.id)
        left = await MongoImportJobRepository(db, tenant).get(job.id)
        assert left is not None
        assert (left.status, left.rows_done, left.created) == ("RUNNING", 40, 40)
        assert await db["customers"].count_documents({"tenant_id": tenant}) == 80

        # Nothing is resumed while the heartbeat is fresh; once it is stale, two replicas
        # race for the job and exactly one takes it.
        stale = MongoStaleJobs(db)

        def imports_for(principal: Principal) -> ImportService:
            return service(principal, MongoImportJobRepository(db, principal.tenant_id))

        assert await resume_stale_jobs(stale, imports_for) == []
        later = utc_now() + timedelta(minutes=5)
        taken = await asyncio.gather(
            resume_stale_jobs(stale, imports_for, now=later),
            resume_stale_jobs(stale, imports_for, now=later),
        )
        assert sorted(len(t) for t in taken) == [0, 1]
        await wait_for_job(job.id)

        done = await MongoImportJobRepository(db, tenant).get(job.id)
        assert done is not None
        assert (done.status, done.processed, done.created, done.duplicates, done.resumed) == (
            "DONE",
            101,
            100,
            1,
            1,
        )
        numbers = sorted(
            [d["number_seq"] async for d in db["customers"].find({"tenant_id": tenant})]
        )
        assert len(numbers) == 100 and len(set(numbers)) == 100
        assert numbers[-1] - numbers[0] == 99  # gap-free
        summary = await db["import_jobs"].find_one({"_id": job.id})
        assert summary is not None
        # The summary event was announced by the job document (and staged in the outbox).
        assert len(summary["_outbox_ids"]) == 1
    finally:
        await client.drop_database(db.name)
        await client.close()
