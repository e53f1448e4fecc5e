"""Purging deleted files' bytes with two replicas on the real store (each its own
one-connection client, like two processes on FerretDB): both racing over the same due files
(a lease handover's overlap, no lease) purge each once, with one PURGED history entry; a
replica dying between the chunks and the mark leaves the file due and the next pass finishes
it; two purge loops with the lease purge everything due and nothing else. Files not deleted,
or deleted within the retention period, keep their bytes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import Crash, ReplicaDatabases, replica_databases, until

from crm_common.clock import utc_now
from crm_common.coordination import Lease
from crm_common.events.contracts.customer_files import CustomerFileAdded
from crm_common.events.outbox import IDS_FIELD, OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_customer.adapters.files import CHUNKS, FILES, GridFSFileStore, GridFSPurgeStore
from crm_customer.adapters.mongo import INDEXES
from crm_customer.domain.files import (
    DEFAULT_RETENTION,
    FileAction,
    FileChange,
    FileKind,
    StoredFile,
)
from crm_customer.service.file_purge import LEASE_NAME, FilePurgeJob, purge_due_files
from crm_customer.service.files import file_event

pytestmark = [pytest.mark.e2e]

DATA = b"%PDF-1.4 " + bytes(range(256)) * 1200  # several GridFS chunks


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "purge", INDEXES) as databases:
        yield databases


async def _file(db: AsyncDatabase[Document], tenant: str, deleted_days_ago: float | None) -> str:
    store = GridFSFileStore(db, tenant)
    now = utc_now()
    stored = StoredFile(
        str(uuid.uuid4()),
        tenant,
        "q.pdf",
        "application/pdf",
        len(DATA),
        FileKind.QUALIFICATION,
        "u1",
        now - timedelta(days=60),
        "c1",
    )
    await store.put(stored, DATA)
    if deleted_days_ago is not None:
        at = now - timedelta(days=deleted_days_ago)
        entry = FileChange(at, "u1", FileAction.DELETED, stored.filename)
        assert await store.apply(stored, replace(stored, deleted_at=at), entry)
    return stored.id


async def _chunks(db: AsyncDatabase[Document], file_id: str) -> int:
    return await db[CHUNKS].count_documents({"files_id": file_id})


async def _state(db: AsyncDatabase[Document], tenant: str, file_id: str) -> StoredFile:
    stored = await GridFSFileStore(db, tenant).metadata(file_id)
    assert stored is not None
    return stored


async def test_two_replicas_racing_purge_each_due_file_once(replicas: ReplicaDatabases) -> None:
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    due = [await _file(db_a, tenant, 31 + n) for n in range(12)]
    recent = await _file(db_a, tenant, 3)
    kept = await _file(db_a, tenant, None)
    now = utc_now()

    counts = await asyncio.gather(
        purge_due_files(GridFSPurgeStore(db_a), now, DEFAULT_RETENTION, batch=50),
        purge_due_files(GridFSPurgeStore(db_b), now, DEFAULT_RETENTION, batch=50),
    )
    # Each due file marked by at least one replica (both may "win" on FerretDB).
    assert len(due) <= sum(counts) <= 2 * len(due)
    for file_id in due:
        stored = await _state(db_a, tenant, file_id)
        assert stored.purged_at is not None and stored.deleted_at is not None
        assert [h.action for h in stored.history] == [FileAction.DELETED, FileAction.PURGED]
        assert stored.size == len(DATA)  # the metadata stays
        assert await _chunks(db_a, file_id) == 0
    for file_id in (recent, kept):
        assert (await _state(db_a, tenant, file_id)).purged_at is None
        assert await _chunks(db_a, file_id) > 0
    found = await GridFSFileStore(db_b, tenant).get(kept)
    assert found is not None and found[1] == DATA
    # Nothing due any more: a further pass of either does nothing.
    assert await purge_due_files(GridFSPurgeStore(db_b), now, DEFAULT_RETENTION) == 0


class DyingAfterChunks(GridFSPurgeStore):
    async def purge(self, stored: StoredFile, purged: StoredFile, change: FileChange) -> bool:
        await self._chunks.delete_many({"files_id": stored.id})
        raise Crash


async def test_a_replica_dying_between_chunks_and_mark_leaves_it_due(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    file_id = await _file(db_a, tenant, 40)
    with pytest.raises(Crash):
        await purge_due_files(DyingAfterChunks(db_a), utc_now(), DEFAULT_RETENTION)
    assert await _chunks(db_a, file_id) == 0
    assert (await _state(db_a, tenant, file_id)).purged_at is None  # still due
    assert await purge_due_files(GridFSPurgeStore(db_b), utc_now(), DEFAULT_RETENTION) == 1
    stored = await _state(db_b, tenant, file_id)
    assert stored.purged_at is not None
    assert [h.action for h in stored.history] == [FileAction.DELETED, FileAction.PURGED]


async def test_two_purge_loops_with_the_lease(replicas: ReplicaDatabases) -> None:
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    due = [await _file(db_a, tenant, 30 + n) for n in range(1, 6)]
    recent = await _file(db_a, tenant, 29)
    jobs = [
        FilePurgeJob(
            GridFSPurgeStore(db),
            DEFAULT_RETENTION,
            interval_s=0.5,
            lease=Lease(db, LEASE_NAME, holder=f"replica-{n}", slot_s=2.0),
            batch=2,
        )
        for n, db in enumerate((db_a, db_b))
    ]
    for job in jobs:
        await job.start()
    try:

        async def all_purged() -> bool:
            states = [await _state(db_a, tenant, f) for f in due]
            return all(s.purged_at is not None for s in states)

        await until(all_purged, timeout_s=60, what="the due files purged by the loops")
    finally:
        for job in jobs:
            await job.stop()
    for file_id in due:
        history = (await _state(db_a, tenant, file_id)).history
        assert [h.action for h in history] == [FileAction.DELETED, FileAction.PURGED]
    assert (await _state(db_a, tenant, recent)).purged_at is None
    assert await _chunks(db_a, recent) > 0


async def test_an_upload_records_its_event_on_the_file_document(
    replicas: ReplicaDatabases,
) -> None:
    """The outbox's proof that the upload landed (what the sweep reads when a writer died
    before marking its entry ready): the event id on the file document GridFS inserted."""
    db_a, _ = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    stored = StoredFile(
        str(uuid.uuid4()),
        tenant,
        "c.pdf",
        "application/pdf",
        len(DATA),
        FileKind.CONTRACT,
        "u1",
        utc_now(),
        "c1",
    )
    payload = CustomerFileAdded(
        file_id=stored.id,
        customer_id="c1",
        filename=stored.filename,
        kind=stored.kind.value,
        content_type=stored.content_type,
        size=stored.size,
        actor_id="u1",
        at=stored.uploaded_at,
    )
    event = file_event(tenant, "c1", payload)
    await GridFSFileStore(db_a, tenant).put(stored, DATA, [event])
    doc = await db_a[FILES].find_one({"_id": stored.id})
    assert doc is not None and doc[IDS_FIELD] == [event.id]
    assert doc["metadata"]["tenant_id"] == tenant and doc["length"] == len(DATA)
    entry = await db_a[OUTBOX_COLLECTION].find_one({"_id": event.id})
    assert entry is not None and entry["state"] == "ready" and entry["doc_id"] == stored.id
    found = await GridFSFileStore(db_a, tenant).get(stored.id)
    assert found is not None and found[1] == DATA
