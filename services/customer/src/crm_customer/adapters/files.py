"""Files in GridFS (bucket ``files``), each tagged with its tenant in the metadata.

Lookups go by ``_id`` (the only filter FerretDB pushes down) and the tenant is checked on
the metadata, so no tenant ever reads another's file. A customer's files are listed by
``metadata.tenant_id`` + ``metadata.customer_id`` (index ``by_customer_uploaded``), newest
first; renames, recategorisations and soft deletes are conditional updates of the file
document that append to ``metadata.history``, each carrying its event (outbox: the ids in the
file document's ``_outbox_ids``, the upload's written with the document GridFS inserts last).

`GridFSPurgeStore` (every tenant: the purge loop) finds deleted files whose bytes are due to
go (index ``purge_due``) and purges them: chunks deleted first, then the file document marked
``metadata.purged_at`` (conditional: not purged yet), so a crash in between leaves a file that
is still due and the next pass finishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket, AsyncGridIn
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import staged_events
from crm_common.mongo import CrossTenant, Document
from crm_common.pagination import (
    Page,
    PageRequest,
    SortKey,
    cursor_for,
    decode_cursor,
    keyset_condition,
    mongo_sort,
)
from crm_customer.domain.files import FileAction, FileChange, FileKind, StoredFile

BUCKET = "files"
FILES = f"{BUCKET}.files"
CHUNKS = f"{BUCKET}.chunks"
_SORT = [SortKey("metadata.uploaded_at", True), SortKey("_id", True)]


def _change_doc(change: FileChange) -> Document:
    return {
        "at": change.at,
        "actor_id": change.actor_id,
        "action": change.action.value,
        "before": change.before,
        "after": change.after,
    }


def _stored(doc: Document, tenant_id: str) -> StoredFile:
    meta: dict[str, Any] = doc.get("metadata") or {}
    return StoredFile(
        id=doc["_id"],
        tenant_id=tenant_id,
        filename=doc["filename"],
        content_type=meta["content_type"],
        size=int(doc["length"]),
        kind=FileKind(meta["kind"]),
        uploaded_by=meta["uploaded_by"],
        uploaded_at=meta["uploaded_at"],
        customer_id=meta.get("customer_id"),
        deleted_at=meta.get("deleted_at"),
        purged_at=meta.get("purged_at"),
        history=tuple(
            FileChange(
                at=h["at"],
                actor_id=h["actor_id"],
                action=FileAction(h["action"]),
                before=h.get("before"),
                after=h.get("after"),
            )
            for h in meta.get("history") or ()
        ),
    )


class GridFSFileStore:
    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._db = db
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        # GridFS keeps the tenant in ``metadata.tenant_id`` (not ``tenant_id``), so the files
        # collection cannot be a TenantCollection: every method below checks it by hand.
        self._files = CrossTenant(db)[FILES]
        self._root = CrossTenant(db)[BUCKET]  # what an upload stream writes through
        self.tenant_id = tenant_id

    async def put(self, stored: StoredFile, data: bytes, events: Sequence[CloudEvent] = ()) -> None:
        """The chunks, then the file document (GridFS writes it last, on close), which
        records the events' ids: no document, no event."""
        metadata: Document = {
            "tenant_id": stored.tenant_id,
            "content_type": stored.content_type,
            "kind": stored.kind.value,
            "uploaded_by": stored.uploaded_by,
            "uploaded_at": stored.uploaded_at,
            "customer_id": stored.customer_id,
            "deleted_at": None,
            "purged_at": None,
            "history": [],
        }
        async with staged_events(self._db, FILES, stored.id, events) as staged:
            # ``AsyncGridIn`` as the bucket makes it, plus the outbox field on the document.
            grid_in = AsyncGridIn(
                self._root,
                _id=stored.id,
                filename=stored.filename,
                metadata=metadata,
                **staged.fields,
            )
            try:
                await grid_in.write(data)
            except BaseException:
                await grid_in.abort()
                raise
            await grid_in.close()

    async def move_customer_files(self, from_customer_id: str, to_customer_id: str) -> int:
        # A scan of the bucket's file documents (not the chunks); merges are rare.
        result = await self._files.update_many(
            {"metadata.tenant_id": self.tenant_id, "metadata.customer_id": from_customer_id},
            {"$set": {"metadata.customer_id": to_customer_id}},
        )
        return result.modified_count

    async def metadata(self, file_id: str) -> StoredFile | None:
        doc = await self._files.find_one({"_id": file_id})
        meta = (doc or {}).get("metadata") or {}
        if doc is None or meta.get("tenant_id") != self.tenant_id:
            return None
        return _stored(doc, self.tenant_id)

    async def get(self, file_id: str) -> tuple[StoredFile, bytes] | None:
        """The file and its bytes; a deleted file's are not read (they may be purged)."""
        stored = await self.metadata(file_id)
        if stored is None:
            return None
        if stored.deleted_at is not None:
            return stored, b""
        try:
            stream = await self._bucket.open_download_stream(file_id)
        except NoFile:
            return None
        return stored, await stream.read()

    async def list_for_customer(
        self, customer_id: str, page: PageRequest, include_deleted: bool
    ) -> Page[StoredFile]:
        base: Document = {
            "metadata.tenant_id": self.tenant_id,
            "metadata.customer_id": customer_id,
        }
        if not include_deleted:
            base["metadata.deleted_at"] = None
        parts = [base]
        if page.after:
            values = decode_cursor(page.after, len(_SORT), "after")
            parts.append(keyset_condition(_SORT, values, after=True))
        if page.before:
            values = decode_cursor(page.before, len(_SORT), "before")
            parts.append(keyset_condition(_SORT, values, after=False))
        size, backward = page.size, page.backward
        cursor = self._files.find(
            parts[0] if len(parts) == 1 else {"$and": parts},
            sort=mongo_sort(_SORT, reverse=backward),
            limit=size + 1,
        )
        docs = [doc async for doc in cursor]
        has_more = len(docs) > size
        docs = docs[:size]
        if backward:
            docs.reverse()
        return Page(
            items=[(_stored(doc, self.tenant_id), cursor_for(doc, _SORT)) for doc in docs],
            has_next_page=has_more if not backward else page.before is not None,
            has_previous_page=has_more if backward else page.after is not None,
            total_count=await self._files.count_documents(base),
        )

    async def apply(
        self,
        before: StoredFile,
        after: StoredFile,
        change: FileChange,
        events: Sequence[CloudEvent] = (),
    ) -> bool:
        deleted_at: datetime | None = after.deleted_at
        update: Document = {
            "$set": {
                "filename": after.filename,
                "metadata.kind": after.kind.value,
                "metadata.deleted_at": deleted_at,
            },
            "$push": {"metadata.history": _change_doc(change)},
        }
        async with staged_events(self._db, FILES, before.id, events) as staged:
            result = await self._files.update_one(
                {
                    "_id": before.id,
                    "metadata.tenant_id": self.tenant_id,
                    "filename": before.filename,
                    "metadata.kind": before.kind.value,
                    "metadata.deleted_at": before.deleted_at,
                },
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1


class GridFSPurgeStore:
    """The deleted files of every tenant whose bytes are due to be purged (the purge loop:
    a deliberate cross-tenant job; each file keeps its tenant in ``metadata.tenant_id``)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._files = CrossTenant(db)[FILES]
        self._chunks = CrossTenant(db)[CHUNKS]

    async def due(self, deleted_before: datetime, limit: int) -> list[StoredFile]:
        """Deleted before ``deleted_before``, bytes not purged yet; earliest deleted first."""
        cursor = self._files.find(
            {"metadata.purged_at": None, "metadata.deleted_at": {"$lt": deleted_before}},
            sort=[("metadata.deleted_at", 1)],
            limit=limit,
        )
        return [_stored(doc, doc["metadata"]["tenant_id"]) async for doc in cursor]

    async def purge(self, stored: StoredFile, purged: StoredFile, change: FileChange) -> bool:
        """Delete the bytes, then mark the file purged with its history entry (False when it
        was marked already: another replica finished it first)."""
        await self._chunks.delete_many({"files_id": stored.id})
        result = await self._files.update_one(
            {
                "_id": stored.id,
                "metadata.tenant_id": stored.tenant_id,
                "metadata.deleted_at": stored.deleted_at,
                "metadata.purged_at": None,
            },
            {
                "$set": {"metadata.purged_at": purged.purged_at},
                "$push": {"metadata.history": _change_doc(change)},
            },
        )
        return result.modified_count == 1
