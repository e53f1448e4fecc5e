"""Files in GridFS (bucket ``files``), each tagged with its tenant in the metadata.

Lookups go by ``_id`` (the only filter FerretDB pushes down) and the tenant is checked on
the metadata, so no tenant ever reads another's file. A customer's files are listed by
``metadata.tenant_id`` + ``metadata.customer_id`` (index ``by_customer_uploaded``), newest
first; renames, recategorisations and soft deletes are conditional updates of the file
document that append to ``metadata.history``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

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
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        # GridFS keeps the tenant in ``metadata.tenant_id`` (not ``tenant_id``), so the files
        # collection cannot be a TenantCollection: every method below checks it by hand.
        self._files = CrossTenant(db)[f"{BUCKET}.files"]
        self.tenant_id = tenant_id

    async def put(self, stored: StoredFile, data: bytes) -> None:
        await self._bucket.upload_from_stream_with_id(
            stored.id,
            stored.filename,
            data,
            metadata={
                "tenant_id": stored.tenant_id,
                "content_type": stored.content_type,
                "kind": stored.kind.value,
                "uploaded_by": stored.uploaded_by,
                "uploaded_at": stored.uploaded_at,
                "customer_id": stored.customer_id,
                "deleted_at": None,
                "history": [],
            },
        )

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
        stored = await self.metadata(file_id)
        if stored is None:
            return None
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

    async def apply(self, before: StoredFile, after: StoredFile, change: FileChange) -> bool:
        deleted_at: datetime | None = after.deleted_at
        result = await self._files.update_one(
            {
                "_id": before.id,
                "metadata.tenant_id": self.tenant_id,
                "filename": before.filename,
                "metadata.kind": before.kind.value,
                "metadata.deleted_at": before.deleted_at,
            },
            {
                "$set": {
                    "filename": after.filename,
                    "metadata.kind": after.kind.value,
                    "metadata.deleted_at": deleted_at,
                },
                "$push": {"metadata.history": _change_doc(change)},
            },
        )
        return result.modified_count == 1
