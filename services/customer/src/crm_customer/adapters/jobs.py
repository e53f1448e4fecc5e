"""Import jobs in Mongo: progress is visible while the job runs; the summary event is staged
in the outbox with the job's last progress write (crm_common.events.outbox).

A job document also keeps what a restarted process needs to resume it (the request, the
number of valid rows done) and a lease: the running process renews ``heartbeat_at`` with
every progress write and on a timer of its own (a slow batch must not look like a dead
process), each conditional on still holding the lease. A process that finds a ``RUNNING`` job
with an old heartbeat takes it over by INSERTING the claim ``{_id: "<job>:<attempt>"}``
(attempt = times resumed + 1) into ``import_job_claims``: a duplicate ``_id`` is refused
atomically on MongoDB and FerretDB alike, whereas a conditional update is a read-then-write on
FerretDB that two replicas can both win. Only the claim's winner then writes the job's new
lease. A claim whose winner died before that write is abandoned once it is as old as a stale
heartbeat; the next process takes the following attempt number instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.clock import utc_now
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import EXCLUDE_OUTBOX, staged_events
from crm_common.mongo import CrossTenant, Document, TenantRepository
from crm_customer.service.ports import ImportJob

IMPORT_JOBS = "import_jobs"
IMPORT_CLAIMS = "import_job_claims"
# Abandoned claims skipped at most per take-over attempt (each needs a dead claimer).
_MAX_ATTEMPTS = 20
# The summary event goes through the service's outbox queue (crm_common.events.outbox).
# The resume scan (every replica, under a lease): running jobs whose heartbeat stopped.
JOB_INDEXES: dict[str, Sequence[IndexModel]] = {
    IMPORT_JOBS: [
        IndexModel([("status", ASCENDING), ("heartbeat_at", ASCENDING)], name="stale_scan")
    ]
}
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
            }
        )

    async def save_progress(self, job: ImportJob, events: Sequence[CloudEvent] = ()) -> bool:
        job.heartbeat_at = utc_now()
        fields = {name: getattr(job, name) for name in _COUNTS}
        update: Document = {"$set": {**fields, "heartbeat_at": job.heartbeat_at}}
        async with staged_events(self._db, IMPORT_JOBS, job.id, events) as staged:
            result = await self.collection.update_one(
                {"_id": job.id, "lease": job.lease}, staged.merged(update)
            )
            if result.matched_count != 1:
                staged.abandon()
        return result.matched_count == 1

    async def renew(self, job: ImportJob) -> bool:
        """Renew the heartbeat only (no counts) if ``job.lease`` still holds the job."""
        now = utc_now()
        result = await self.collection.update_one(
            {"_id": job.id, "lease": job.lease}, {"$set": {"heartbeat_at": now}}
        )
        if result.matched_count == 1:
            job.heartbeat_at = now
            return True
        return False

    async def get(self, job_id: str) -> ImportJob | None:
        doc = await self.collection.find_one({"_id": job_id}, projection=EXCLUDE_OUTBOX)
        return _job_from(doc) if doc else None


class MongoStaleJobs:
    """Import jobs of every tenant whose process stopped renewing them (a crash, a restart)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the resume loop looks after every tenant's jobs; a claim
        # names the job by id and lease, and the resumed job keeps its own tenant.
        self.collection = CrossTenant(db)[IMPORT_JOBS]
        self.claims = CrossTenant(db)[IMPORT_CLAIMS]

    async def stale(self, older_than: datetime) -> list[ImportJob]:
        # A scan on FerretDB, but of the small jobs collection, once in a while.
        cursor = self.collection.find(
            {"status": "RUNNING", "heartbeat_at": {"$lt": older_than}},
            projection=EXCLUDE_OUTBOX,
        )
        return [_job_from(doc) async for doc in cursor]

    async def claim(
        self, job: ImportJob, lease: str, now: datetime, abandoned_before: datetime
    ) -> bool:
        attempt = job.resumed + 1
        for _ in range(_MAX_ATTEMPTS):
            claim_id = f"{job.id}:{attempt}"
            try:
                await self.claims.insert_one(
                    {
                        "_id": claim_id,
                        "tenant_id": job.tenant_id,
                        "job_id": job.id,
                        "attempt": attempt,
                        "holder": lease,
                        "claimed_at": now,
                    }
                )
                break
            except DuplicateKeyError:
                taken = await self.claims.find_one({"_id": claim_id})
                if taken is not None and taken["claimed_at"] >= abandoned_before:
                    return False  # another process is taking the job over right now
                attempt += 1  # that claimer died before it resumed the job: take the next
        else:
            return False
        # Only this claim's winner writes the job's lease (and only if the job is still the
        # stale one read: on MongoDB a live owner renewing meanwhile makes this match nothing).
        result = await self.collection.update_one(
            {
                "_id": job.id,
                "status": "RUNNING",
                "lease": job.lease,
                "heartbeat_at": job.heartbeat_at,
            },
            {"$set": {"lease": lease, "heartbeat_at": now, "resumed": attempt}},
        )
        if result.matched_count != 1:
            return False
        job.resumed = attempt
        return True
