"""Import jobs in Mongo: progress is visible while the job runs; the summary event rides in
the job document's outbox."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, IndexModel

from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import OUTBOX_FIELD, outbox_update
from crm_common.mongo import Document, TenantRepository
from crm_customer.service.ports import ImportJob

IMPORT_JOBS = "import_jobs"
JOB_INDEXES = {IMPORT_JOBS: [IndexModel([("_outbox_pending", ASCENDING)])]}
_COUNTS = ("status", "total", "processed", "created", "updated", "duplicates", "failed", "errors")


class MongoImportJobRepository(TenantRepository):
    collection_name = IMPORT_JOBS

    async def add(self, job: ImportJob) -> None:
        await self.collection.insert_one(
            {
                "_id": job.id,
                "tenant_id": job.tenant_id,
                "actor_id": job.actor_id,
                "file_id": job.file_id,
                **{name: getattr(job, name) for name in _COUNTS},
                OUTBOX_FIELD: [],
                "_outbox_pending": 0,
            }
        )

    async def save_progress(self, job: ImportJob, events: Sequence[CloudEvent] = ()) -> None:
        update: Document = {"$set": {name: getattr(job, name) for name in _COUNTS}}
        if events:
            update.update(outbox_update(events))
        await self.collection.update_one({"_id": job.id}, update)

    async def get(self, job_id: str) -> ImportJob | None:
        doc = await self.collection.find_one({"_id": job_id}, projection={OUTBOX_FIELD: 0})
        if doc is None or doc["tenant_id"] != self.tenant_id:
            return None
        return ImportJob(
            id=doc["_id"],
            tenant_id=doc["tenant_id"],
            actor_id=doc["actor_id"],
            file_id=doc["file_id"],
            **{name: doc[name] for name in _COUNTS},
        )
