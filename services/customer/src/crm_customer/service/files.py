"""Customer files: upload, download, list, rename, recategorise and soft delete with history,
authorised like the customer itself (service roles may upload DELIVERABLE files). A customer's
file changes are announced (``file_added``, ``file_changed``, ``file_deleted``, written with
the change: outbox); a deleted file's bytes are purged later (`service.file_purge`)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer_files import (
    CustomerFileAdded,
    CustomerFileChanged,
    CustomerFileDeleted,
)
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_common.pagination import Page, PageRequest
from crm_customer.domain import permissions
from crm_customer.domain.customer import Customer
from crm_customer.domain.files import (
    DEFAULT_RETENTION,
    FileAction,
    FileChange,
    FileKind,
    StoredFile,
    check_customer_kind,
    check_editable,
    check_upload,
    clean_filename,
    max_bytes,
)
from crm_customer.service.customers import EVENT_SOURCE
from crm_customer.service.ports import CustomerRepository, FileStore

SAVE_ATTEMPTS = 5


def _nothing() -> None:
    """No outbox relay to wake (tests, tools)."""


def file_event(tenant_id: str, customer_id: str, payload: EventData) -> CloudEvent:
    return new_event(payload, source=EVENT_SOURCE, tenant_id=tenant_id, key=customer_id)


def change_announcement(
    after: StoredFile, entry: FileChange, retention: timedelta
) -> EventData | None:
    """The event of one change of a customer's file (None for other files)."""
    if after.customer_id is None:
        return None
    if entry.action is FileAction.DELETED:
        return CustomerFileDeleted(
            file_id=after.id,
            customer_id=after.customer_id,
            filename=after.filename,
            kind=after.kind.value,
            actor_id=entry.actor_id,
            at=entry.at,
            content_purge_after=entry.at + retention,
        )
    return CustomerFileChanged(
        file_id=after.id,
        customer_id=after.customer_id,
        action=entry.action.value,
        before=entry.before,
        after=entry.after,
        filename=after.filename,
        kind=after.kind.value,
        actor_id=entry.actor_id,
        at=entry.at,
    )


class FileService:
    def __init__(
        self,
        principal: Principal,
        customers: CustomerRepository,
        store: FileStore,
        clock: Callable[[], datetime] = utc_now,
        notify_outbox: Callable[[], None] = _nothing,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self._principal = principal
        self._customers = customers
        self._store = store
        self._clock = clock
        self._notify_outbox = notify_outbox
        self._retention = retention

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
            permissions.can_upload_file(principal, customer, kind.value)
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
        events = []
        if stored.customer_id is not None:
            added = CustomerFileAdded(
                file_id=stored.id,
                customer_id=stored.customer_id,
                filename=stored.filename,
                kind=stored.kind.value,
                content_type=stored.content_type,
                size=stored.size,
                actor_id=principal.user_id,
                at=stored.uploaded_at,
            )
            events.append(file_event(principal.tenant_id, stored.customer_id, added))
        await self._store.put(stored, data, events)
        if events:
            self._notify_outbox()
        return stored

    async def _visible_customer(self, customer_id: str, field: str) -> Customer:
        """The tenant's customer, if this principal may read it (as a download: FORBIDDEN for
        a customer of the tenant they do not see, NOT_FOUND for none)."""
        customer = await self._customers.get(customer_id)
        if customer is None or customer.is_tombstone:
            raise NotFound("no such customer", field=field)
        if not permissions.sees(self._principal, customer):
            raise Forbidden(
                "you may not see this customer's files: it is neither yours nor your team's "
                "(needs customer:read)",
                permission="customer:read",
                field=field,
            )
        return customer

    async def list_for_customer(
        self, customer_id: str, page: PageRequest, include_deleted: bool = False
    ) -> Page[StoredFile]:
        """A customer's files, newest first, for whoever sees the customer."""
        await self._visible_customer(customer_id, "customerId")
        return await self._store.list_for_customer(customer_id, page, include_deleted)

    async def _edit(
        self,
        file_id: str,
        change: Callable[[StoredFile, Customer], tuple[StoredFile, FileChange] | None],
    ) -> StoredFile:
        for _ in range(SAVE_ATTEMPTS):
            before = await self._store.metadata(file_id)
            if before is None or before.customer_id is None:
                raise NotFound("no such file", field="input.id")
            customer = await self._visible_customer(before.customer_id, "input.id")
            permissions.can_edit_file(
                self._principal, customer, before.kind.value, before.uploaded_by
            )
            check_editable(before)
            result = change(before, customer)
            if result is None:
                return before
            after, entry = result
            payload = change_announcement(after, entry, self._retention)
            events = (
                [file_event(self._principal.tenant_id, before.customer_id, payload)]
                if payload is not None
                else []
            )
            if await self._store.apply(before, after, entry, events):
                if events:
                    self._notify_outbox()
                return dataclasses.replace(after, history=(*before.history, entry))
        raise Conflict("the file keeps changing; reload and try again", field="input.id")

    async def rename(self, file_id: str, filename: str) -> StoredFile:
        name = clean_filename(filename)

        def change(before: StoredFile, _: Customer) -> tuple[StoredFile, FileChange] | None:
            if before.filename == name:
                return None
            entry = FileChange(
                self._clock(), self._principal.user_id, FileAction.RENAMED, before.filename, name
            )
            return dataclasses.replace(before, filename=name), entry

        return await self._edit(file_id, change)

    async def recategorise(self, file_id: str, kind: FileKind) -> StoredFile:
        check_customer_kind(kind)

        def change(before: StoredFile, customer: Customer) -> tuple[StoredFile, FileChange] | None:
            if before.kind == kind:
                return None
            # The new kind must be one this principal could upload (a service agent keeps
            # their deliverable a DELIVERABLE).
            permissions.can_upload_file(self._principal, customer, kind.value)
            entry = FileChange(
                self._clock(),
                self._principal.user_id,
                FileAction.RECATEGORISED,
                before.kind.value,
                kind.value,
            )
            return dataclasses.replace(before, kind=kind), entry

        return await self._edit(file_id, change)

    async def delete(self, file_id: str) -> StoredFile:
        """Soft delete: the file leaves the list (unless asked for) and downloads; its
        history keeps who deleted it when. The bytes are purged after the retention period
        (`service.file_purge`); the metadata and history stay."""

        def change(before: StoredFile, _: Customer) -> tuple[StoredFile, FileChange]:
            now = self._clock()
            entry = FileChange(now, self._principal.user_id, FileAction.DELETED, before.filename)
            return dataclasses.replace(before, deleted_at=now), entry

        return await self._edit(file_id, change)

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
        if stored.deleted_at is not None:
            raise NotFound("the file was deleted", field="fileId")
        if stored.customer_id is not None:
            visible = await self._customers.get_many(
                [stored.customer_id], permissions.visibility(self._principal)
            )
            if stored.customer_id not in visible:
                raise Forbidden("you may not read this customer's files")
        elif stored.uploaded_by != self._principal.user_id and not self._principal.is_admin:
            raise Forbidden("only its owner may read this file")
        return stored, data
