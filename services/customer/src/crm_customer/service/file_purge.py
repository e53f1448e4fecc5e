"""Purging the bytes of deleted customer files after the retention period (a background job
of every replica).

A soft-deleted file keeps its bytes for the retention period (``FILE_PURGE_RETENTION_DAYS``,
default 30: `domain.files.DEFAULT_RETENTION`), then they are deleted; the file document stays
with its metadata and history ("deleted by X at T", then "PURGED by system:file-purge at T2").

Replicas: a `crm_common.scheduling.DueLoop` with the ``customer.file-purge`` lease, so one
replica runs passes (re-checking the lease before each file). During a lease handover two
replicas may purge the same file at once, which is harmless: deleting the chunks twice deletes
nothing more, and the mark is conditional on "not purged yet" (on MongoDB one update wins; on
FerretDB, whose updates are read-modify-writes, both compute the same document from the same
unpurged state, so the history still holds one PURGED entry). The chunks go first and the mark
last: a replica dying in between leaves the file due, and the next pass finishes it. No event
is announced for a purge (``file_deleted`` said when it would happen).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from crm_common.clock import utc_now
from crm_common.coordination import Lease
from crm_common.scheduling import DueLoop
from crm_customer.domain.files import FileChange, StoredFile, purge_due_at, purge_is_due, purged

log = logging.getLogger(__name__)
LEASE_NAME = "customer.file-purge"


class PurgeStore(Protocol):
    async def due(self, deleted_before: datetime, limit: int) -> list[StoredFile]:
        """Files of any tenant deleted before ``deleted_before`` whose bytes are still there,
        earliest deleted first."""

    async def purge(self, stored: StoredFile, purged: StoredFile, change: FileChange) -> bool:
        """Delete the bytes, then mark the file purged (False: marked already)."""


async def purge_due_files(
    store: PurgeStore,
    now: datetime,
    retention: timedelta,
    batch: int = 100,
    lease: Lease | None = None,
) -> int:
    """Purge the bytes of up to ``batch`` files whose retention ended at ``now``; how many this
    call marked. With a ``lease``, only while this process holds it."""
    if lease is not None and not await lease.held():
        return 0
    done = 0
    for stored in await store.due(now - retention, batch):
        if not purge_is_due(stored, now, retention):
            continue
        if lease is not None and not await lease.held():
            break
        after, entry = purged(stored, now)
        if await store.purge(stored, after, entry):
            done += 1
    return done


class FilePurgeJob:
    """Runs `purge_due_files` when a deleted file's retention ends (`DueLoop`: sweeping every
    ``interval_s``; a deletion is at least the retention period away, so no wake-up)."""

    def __init__(
        self,
        store: PurgeStore,
        retention: timedelta,
        interval_s: float,
        lease: Lease | None = None,
        clock: Callable[[], datetime] = utc_now,
        batch: int = 100,
    ) -> None:
        self._store = store
        self._retention = retention
        self._lease = lease
        self._batch = batch
        self._loop = DueLoop("file-purge", self, lease=lease, sweep_s=interval_s, clock=clock)

    async def run_due(self, now: datetime) -> int:
        return await purge_due_files(
            self._store, now, self._retention, batch=self._batch, lease=self._lease
        )

    async def next_due(self, horizon: datetime) -> datetime | None:
        """The earliest purge time by ``horizon`` (the same indexed query, one file)."""
        for stored in await self._store.due(horizon - self._retention, 1):
            return purge_due_at(stored, self._retention)
        return None

    async def start(self, _: object = None) -> None:
        await self._loop.start()

    async def stop(self, _: object = None) -> None:
        await self._loop.stop()
