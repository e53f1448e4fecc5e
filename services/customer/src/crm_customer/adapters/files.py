"""Files in GridFS (bucket ``files``), each tagged with its tenant in the metadata.

Lookups go by ``_id`` (the only filter FerretDB pushes down) and the tenant is checked on
the metadata, so no tenant ever reads another's file.
"""

from __future__ import annotations

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import CrossTenant, Document
from crm_customer.domain.files import FileKind, StoredFile

BUCKET = "files"


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
            },
        )

    async def move_customer_files(self, from_customer_id: str, to_customer_id: str) -> int:
        # A scan of the bucket's file documents (not the chunks); merges are rare.
        result = await self._files.update_many(
            {"metadata.tenant_id": self.tenant_id, "metadata.customer_id": from_customer_id},
            {"$set": {"metadata.customer_id": to_customer_id}},
        )
        return result.modified_count

    async def get(self, file_id: str) -> tuple[StoredFile, bytes] | None:
        doc = await self._files.find_one({"_id": file_id})
        meta = (doc or {}).get("metadata") or {}
        if doc is None or meta.get("tenant_id") != self.tenant_id:
            return None
        try:
            stream = await self._bucket.open_download_stream(file_id)
        except NoFile:
            return None
        data = await stream.read()
        stored = StoredFile(
            id=file_id,
            tenant_id=self.tenant_id,
            filename=doc["filename"],
            content_type=meta["content_type"],
            size=int(doc["length"]),
            kind=FileKind(meta["kind"]),
            uploaded_by=meta["uploaded_by"],
            uploaded_at=meta["uploaded_at"],
            customer_id=meta.get("customer_id"),
        )
        return stored, data
