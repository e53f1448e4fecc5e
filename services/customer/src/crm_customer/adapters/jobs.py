"""Import jobs in Mongo: progress is visible while the job runs; the summary event rides in
the job document's outbox.

A job document also keeps what a restarted process needs to resume it (the request, the
number of valid rows done) and a lease: the running process renews ``heartbeat_at`` with
every progress write, conditional on still holding the lease, and a process that finds a
``RUNNING`` job with an old heartbeat takes it over with one conditional update, so exactly
one process resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.clock import utc_now
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import OUTBOX_FIELD, outbox_update
from crm_common.mongo import Document, TenantRepository
from crm_customer.service.ports import ImportJob

IMPORT_JOBS = "import_jobs"
JOB_INDEXES = {IMPORT_JOBS: [IndexModel([("_outbox_pending", ASCENDING)])]}
_COUNTS = (
    "status", "total", "processed", "created", "updated", "duplicates", "failed", "errors",
    "rows_done",
)  # fmt: skip
_REQUEST = (
    "table_format", "mapping", "custom_columns", "update_existing", "actor_roles", "actor_team",
)  # fmt: skip


def _job_from(doc: Document) -> ImportJob:
    known: dict[str, Any] = {
        name: doc[name] for name in (*_COUNTS, *_REQUEST, "lease", "resumed") if name in doc
    }
    return ImportJob(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        actor_id=doc["actor_id"],
        file_id=doc["file_id"],
        heartbeat_at=doc.get("heartbeat_at"),
        **known,
    )


class MongoImportJobRepository(TenantRepository):
    collection_name = IMPORT_JOBS

    async def add(self, job: ImportJob) -> None:
        job.heartbeat_at = utc_now()
        await self.collection.insert_one(
            {
                "_id": job.id,
                "tenant_id": job.tenant_id,
                "actor_id": job.actor_id,
                "file_id": job.file_id,
                **{name: getattr(job, name) for name in (*_COUNTS, *_REQUEST)},
                "lease": job.lease,
                "heartbeat_at": job.heartbeat_at,
                "resumed": job.resumed,
                OUTBOX_FIELD: [],
                "_outbox_pending": 0,
            }
        )

    async def save_progress(self, job: ImportJob, events: Sequence[CloudEvent] = ()) -> bool:
        job.heartbeat_at = utc_now()
        fields = {name: getattr(job, name) for name in _COUNTS}
        update: Document = {"$set": {**fields, "heartbeat_at": job.heartbeat_at}}
        if events:
            update.update(outbox_update(events))
        result = await self.collection.update_one({"_id": job.id, "lease": job.lease}, update)
        return result.matched_count == 1

    async def get(self, job_id: str) -> ImportJob | None:
        doc = await self.collection.find_one({"_id": job_id}, projection={OUTBOX_FIELD: 0})
        if doc is None or doc["tenant_id"] != self.tenant_id:
            return None
        return _job_from(doc)


class MongoStaleJobs:
    """Import jobs of every tenant whose process stopped renewing them (a crash, a restart)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[IMPORT_JOBS]

    async def stale(self, older_than: datetime) -> list[ImportJob]:
        # A scan on FerretDB, but of the small jobs collection, once in a while.
        cursor = self.collection.find(
            {"status": "RUNNING", "heartbeat_at": {"$lt": older_than}},
            projection={OUTBOX_FIELD: 0},
        )
        return [_job_from(doc) async for doc in cursor]

    async def claim(self, job: ImportJob, lease: str, now: datetime) -> bool:
        result = await self.collection.update_one(
            {
                "_id": job.id,
                "status": "RUNNING",
                "lease": job.lease,
                "heartbeat_at": job.heartbeat_at,
            },
            {"$set": {"lease": lease, "heartbeat_at": now}, "$inc": {"resumed": 1}},
        )
        return result.modified_count == 1
