"""Rules for stored files: kinds, allowed MIME types and size limits, and when a deleted
file's bytes are purged. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import BadUserInput


class FileKind(StrEnum):
    QUALIFICATION = "QUALIFICATION"
    CONTRACT = "CONTRACT"
    PROPOSAL = "PROPOSAL"
    IMPORT = "IMPORT"
    EXPORT = "EXPORT"
    # A work result the service desk hands over (交付物).
    DELIVERABLE = "DELIVERABLE"
    OTHER = "OTHER"


# The kinds of a customer's files (the categories a file can be moved between).
CUSTOMER_KINDS = frozenset(
    {
        FileKind.QUALIFICATION,
        FileKind.CONTRACT,
        FileKind.PROPOSAL,
        FileKind.DELIVERABLE,
        FileKind.OTHER,
    }
)


class FileAction(StrEnum):
    RENAMED = "RENAMED"
    RECATEGORISED = "RECATEGORISED"
    DELETED = "DELETED"
    PURGED = "PURGED"  # the deleted file's bytes were removed (its metadata stays)


@dataclass(frozen=True, slots=True)
class FileChange:
    """One change to a stored file: who did what when (before/after: name or kind)."""

    at: datetime
    actor_id: str
    action: FileAction
    before: str | None = None
    after: str | None = None


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", DOCX, "text/plain"})
TABLE_TYPES = frozenset({"text/csv", XLSX})
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_TABLE_BYTES = 50 * 1024 * 1024
NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    tenant_id: str
    filename: str
    content_type: str
    size: int
    kind: FileKind
    uploaded_by: str
    uploaded_at: datetime
    customer_id: str | None = None
    deleted_at: datetime | None = None
    history: tuple[FileChange, ...] = ()
    # When the bytes of the deleted file were purged (`purge_due_at`); None while kept.
    purged_at: datetime | None = None


# A deleted file's bytes are kept this long by default (the service's setting
# ``FILE_PURGE_RETENTION_DAYS``), then purged; the metadata and history stay.
DEFAULT_RETENTION = timedelta(days=30)
PURGE_ACTOR = "system:file-purge"


def purge_due_at(stored: StoredFile, retention: timedelta) -> datetime | None:
    """When the bytes of a deleted file are to be purged; None if it is not deleted or its
    bytes are gone already."""
    if stored.deleted_at is None or stored.purged_at is not None:
        return None
    return stored.deleted_at + retention


def purge_is_due(stored: StoredFile, now: datetime, retention: timedelta) -> bool:
    due = purge_due_at(stored, retention)
    return due is not None and due <= now


def purged(stored: StoredFile, at: datetime) -> tuple[StoredFile, FileChange]:
    """The file after its bytes were purged, and the history entry that says so."""
    if stored.deleted_at is None:
        raise ValueError("only a deleted file's bytes are purged")
    entry = FileChange(at, PURGE_ACTOR, FileAction.PURGED, stored.filename)
    return replace(stored, purged_at=at), entry


def clean_filename(filename: str) -> str:
    name = filename.strip()
    if not name or len(name) > NAME_MAX or "/" in name or "\\" in name:
        raise BadUserInput(
            "a file name of 1 to 200 characters without '/' or '\\'", field="input.filename"
        )
    return name


def check_customer_kind(kind: FileKind, field: str = "input.kind") -> None:
    if kind not in CUSTOMER_KINDS:
        raise BadUserInput(
            f"a customer's file is one of {', '.join(sorted(CUSTOMER_KINDS))}, not {kind.value}",
            field=field,
        )


def check_editable(stored: StoredFile) -> None:
    if stored.customer_id is None:
        raise BadUserInput("only a customer's files are renamed or categorised", field="input.id")
    if stored.deleted_at is not None:
        raise BadUserInput("the file is deleted", field="input.id")


def max_bytes(kind: FileKind) -> int:
    return MAX_TABLE_BYTES if kind in (FileKind.IMPORT, FileKind.EXPORT) else MAX_DOCUMENT_BYTES


def check_upload(kind: FileKind, filename: str, content_type: str, customer_id: str | None) -> None:
    """Refuse a file whose kind, name or type is not allowed (size is checked while reading)."""
    if not filename.strip() or len(filename) > NAME_MAX or "/" in filename:
        raise BadUserInput("a file name of 1 to 200 characters without '/'", field="filename")
    allowed = TABLE_TYPES if kind == FileKind.IMPORT else DOCUMENT_TYPES
    if kind == FileKind.EXPORT:
        raise BadUserInput("export files are made by the service", field="kind")
    if content_type not in allowed:
        raise BadUserInput(
            f"{content_type or 'no type'} is not allowed for {kind.value}; allowed: "
            + ", ".join(sorted(allowed)),
            field="contentType",
        )
    if kind != FileKind.IMPORT and not customer_id:
        raise BadUserInput(f"a {kind.value} file belongs to a customer", field="customerId")
