"""Queueing an e-mail: one delivery document per e-mail, idempotent on the caller's key.

A delivery lives in the queuing service's own database (``email_deliveries``), bound to its
tenant like every record. `queue_email` inserts it under an id derived from (tenant, key), so
queuing the same e-mail again (a redelivered event, a retried mutation) finds the first one
instead of sending twice; it then wakes this process's sender (`EmailSignal`), which sends it
at once. What happens next is the sender's (`crm_common.email.sender`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bson import Binary
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.clock import utc_now
from crm_common.email.model import (
    CLAIMS_COLLECTION,
    DELIVERIES_COLLECTION,
    MAX_ATTACHMENT_BYTES,
    Attachment,
    DeliveryStatus,
    EmailContext,
    valid_address,
)
from crm_common.errors import BadUserInput
from crm_common.mongo import Document, tenant_collection

_NAMESPACE = uuid.UUID("3b8f0c1e-7d1a-4f7e-9a55-2c6c0e5d9b41")

#: What the sender's and the records' queries need (register with `ServiceRuntime.with_indexes`).
EMAIL_INDEXES: dict[str, Sequence[IndexModel]] = {
    DELIVERIES_COLLECTION: [
        # The sweep: QUEUED deliveries whose retry is due, SENDING ones whose claim ran out.
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)], name="due"),
        # A record's deliveries, newest first (a quote's, a survey's).
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("context_kind", ASCENDING),
                ("context_id", ASCENDING),
                ("created_at", DESCENDING),
            ],
            name="by_context",
        ),
    ],
    # Pruning claims older than a day (crm_common.email.sender).
    CLAIMS_COLLECTION: [IndexModel([("at", ASCENDING)], name="by_age")],
}


class EmailSignal:
    """Wakes this process's sender right after `queue_email`, with the ids to send."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._ids: list[str] = []

    def notify(self, delivery_id: str) -> None:
        self._ids.append(delivery_id)
        self._event.set()

    async def wait(self, max_wait_s: float) -> list[str]:
        """The ids announced since the last call (empty after ``max_wait_s`` of silence)."""
        if not self._ids:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), max_wait_s)
        self._event.clear()
        ids, self._ids = self._ids, []
        return ids


@dataclass(frozen=True, slots=True)
class Delivery:
    """One e-mail as the record it concerns shows it."""

    id: str
    to: tuple[str, ...]
    subject: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_error: str | None = None
    last_error_code: int | None = None
    sent_at: datetime | None = None
    context: EmailContext | None = None


def delivery_id(tenant_id: str, key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}\x1f{key}"))


def _delivery(doc: Document) -> Delivery:
    error = doc.get("last_error") or {}
    kind, cid = doc.get("context_kind"), doc.get("context_id")
    return Delivery(
        id=doc["_id"],
        to=tuple(doc.get("to") or ()),
        subject=doc.get("subject") or "",
        status=DeliveryStatus(doc["status"]),
        attempts=int(doc.get("attempts") or 0),
        created_at=doc["created_at"],
        last_error=error.get("message"),
        last_error_code=error.get("code"),
        sent_at=doc.get("sent_at"),
        context=EmailContext(kind, cid) if kind and cid else None,
    )


async def queue_email(
    db: AsyncDatabase[Document],
    tenant_id: str,
    *,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    key: str,
    context: EmailContext | None = None,
    signal: EmailSignal | None = None,
    now: datetime | None = None,
) -> Delivery:
    """Queue one e-mail (idempotent on ``key`` within the tenant) and wake the sender.

    Returns the delivery: the new one, or the one queued earlier under the same key (whatever
    its state). Raises `BadUserInput` for an address that cannot be an address at all (a
    syntactically fine address the server refuses is recorded on the delivery instead).
    """
    recipients = [a.strip() for a in to if a and a.strip()]
    if not recipients:
        raise BadUserInput("an e-mail needs a recipient", field="to")
    for address in recipients:
        if not valid_address(address):
            raise BadUserInput(f"{address!r} is not an e-mail address", field="to")
    if sum(len(a.content) for a in attachments) > MAX_ATTACHMENT_BYTES:
        raise BadUserInput(
            f"attachments exceed {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB", field="attachments"
        )
    at = now or utc_now()
    did = delivery_id(tenant_id, key)
    document: Document = {
        "_id": did,
        "key": key,
        "to": recipients,
        "subject": subject,
        "text": text,
        "html": html,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "content": Binary(a.content)}
            for a in attachments
        ],
        "context_kind": context.kind if context else None,
        "context_id": context.id if context else None,
        "status": DeliveryStatus.QUEUED.value,
        "attempts": 0,
        "due_at": at,
        "created_at": at,
        "last_error": None,
        "sent_at": None,
    }
    deliveries = tenant_collection(db, DELIVERIES_COLLECTION, tenant_id)
    try:
        await deliveries.insert_one(document)
    except DuplicateKeyError:
        existing = await deliveries.find_one({"_id": did})
        if existing is None:  # the same key in another tenant cannot collide (tenant in the id)
            raise
        return _delivery(existing)
    if signal is not None:
        signal.notify(did)
    return _delivery(document)


async def deliveries_for(
    db: AsyncDatabase[Document], tenant_id: str, context: EmailContext, limit: int = 50
) -> list[Delivery]:
    """The deliveries about one record, newest first."""
    deliveries = tenant_collection(db, DELIVERIES_COLLECTION, tenant_id)
    cursor = deliveries.find(
        {"context_kind": context.kind, "context_id": context.id},
        projection={"attachments": 0, "text": 0, "html": 0},
        sort=[("created_at", DESCENDING)],
        limit=limit,
    )
    return [_delivery(doc) async for doc in cursor]


async def get_delivery(
    db: AsyncDatabase[Document], tenant_id: str, delivery: str
) -> Delivery | None:
    doc = await tenant_collection(db, DELIVERIES_COLLECTION, tenant_id).find_one(
        {"_id": delivery}, projection={"attachments": 0, "text": 0, "html": 0}
    )
    return _delivery(doc) if doc else None
