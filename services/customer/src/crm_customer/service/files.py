"""Upload and download of customer files, authorised like the customer itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import BadUserInput, Forbidden, NotFound
from crm_customer.domain import permissions
from crm_customer.domain.files import FileKind, StoredFile, check_upload, max_bytes
from crm_customer.service.ports import CustomerRepository, FileStore


class FileService:
    def __init__(
        self,
        principal: Principal,
        customers: CustomerRepository,
        store: FileStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._customers = customers
        self._store = store
        self._clock = clock

    async def upload(
        self,
        kind: FileKind,
        filename: str,
        content_type: str,
        data: bytes,
        customer_id: str | None,
    ) -> StoredFile:
        principal = self._principal
        check_upload(kind, filename, content_type, customer_id)
        if len(data) > max_bytes(kind):
            raise BadUserInput(f"files of this kind are at most {max_bytes(kind)} bytes")
        if not data:
            raise BadUserInput("the file is empty")
        if kind == FileKind.IMPORT:
            permissions.can_import(principal)
        else:
            customer = await self._customers.get(customer_id or "")
            if customer is None or customer.is_tombstone:
                raise NotFound("no such customer", field="customerId")
            permissions.can_write(principal, customer)
        stored = StoredFile(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            filename=filename.strip(),
            content_type=content_type,
            size=len(data),
            kind=kind,
            uploaded_by=principal.user_id,
            uploaded_at=self._clock(),
            customer_id=customer_id if kind != FileKind.IMPORT else None,
        )
        await self._store.put(stored, data)
        return stored

    async def save_generated(
        self, kind: FileKind, filename: str, content_type: str, data: bytes
    ) -> StoredFile:
        """A file the service made for this principal (an export)."""
        stored = StoredFile(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            filename=filename,
            content_type=content_type,
            size=len(data),
            kind=kind,
            uploaded_by=self._principal.user_id,
            uploaded_at=self._clock(),
        )
        await self._store.put(stored, data)
        return stored

    async def download(self, file_id: str) -> tuple[StoredFile, bytes]:
        """A customer's file for whoever may see the customer; other files for their owner."""
        found = await self._store.get(file_id)
        if found is None:
            raise NotFound("no such file", field="fileId")
        stored, data = found
        if stored.customer_id is not None:
            visible = await self._customers.get_many(
                [stored.customer_id], permissions.visibility(self._principal)
            )
            if stored.customer_id not in visible:
                raise Forbidden("you may not read this customer's files")
        elif stored.uploaded_by != self._principal.user_id and not self._principal.is_admin:
            raise Forbidden("only its owner may read this file")
        return stored, data
