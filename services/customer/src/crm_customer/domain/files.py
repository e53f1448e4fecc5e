"""Rules for stored files: kinds, allowed MIME types and size limits. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput


class FileKind(StrEnum):
    QUALIFICATION = "QUALIFICATION"
    CONTRACT = "CONTRACT"
    PROPOSAL = "PROPOSAL"
    IMPORT = "IMPORT"
    EXPORT = "EXPORT"


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
