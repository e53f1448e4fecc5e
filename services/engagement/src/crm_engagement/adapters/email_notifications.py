"""Storage and sending for notification e-mails (service/email_notifications.py): digest items
in ``email_digest_items``, e-mails through crm_common.email."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.email import EmailContext, EmailSignal, queue_email
from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.engagement import NotificationCreated
from crm_common.events.envelope import CloudEvent
from crm_common.mongo import CrossTenant, Document, tenant_collection
from crm_engagement.service.email_notifications import DigestItem, EmailNotifications

DIGEST_ITEMS = "email_digest_items"
DIGEST_INDEXES = {
    DIGEST_ITEMS: [
        IndexModel(
            [
                ("closes_at", ASCENDING),
                ("tenant_id", ASCENDING),
                ("recipient_id", ASCENDING),
                ("created_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="by_closing",
        )
    ]
}
_ORDER = [("closes_at", 1), ("tenant_id", 1), ("recipient_id", 1), ("created_at", 1), ("_id", 1)]
# Items collected before periods followed the tenant's clock carry no closing time: they are
# given the epoch (their UTC period is over by now or within a day), so the next pass sends them.
_LONG_CLOSED = datetime(1970, 1, 1, tzinfo=UTC)


class MongoNotificationMailer:
    def __init__(self, db: AsyncDatabase[Document], signal: EmailSignal) -> None:
        self._db = db
        self._signal = signal

    async def queue(
        self, tenant_id: str, *, to: str, subject: str, text: str, html: str, key: str
    ) -> None:
        await queue_email(
            self._db,
            tenant_id,
            to=[to],
            subject=subject,
            text=text,
            html=html,
            key=key,
            context=EmailContext("notification", key),
            signal=self._signal,
        )


class MongoDigestStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        # Background loop: closed periods of every tenant's users.
        self._all = CrossTenant(db)[DIGEST_ITEMS]
        self._upgraded = False

    async def add(self, item: DigestItem) -> bool:
        try:
            await tenant_collection(self._db, DIGEST_ITEMS, item.tenant_id).insert_one(
                {
                    "_id": f"{item.tenant_id}:{item.notification_id}",
                    "notification_id": item.notification_id,
                    "recipient_id": item.recipient_id,
                    "email": item.email,
                    "kind": item.kind,
                    "title": item.title,
                    "body": item.body,
                    "record_type": item.record_type,
                    "record_id": item.record_id,
                    "created_at": item.created_at,
                    "period": item.period,
                    "closes_at": item.closes_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def closed(self, by: datetime, limit: int) -> list[DigestItem]:
        if not self._upgraded:  # once per process; idempotent, so replicas may both do it
            await self._all.update_many({"closes_at": None}, {"$set": {"closes_at": _LONG_CLOSED}})
            self._upgraded = True
        cursor = self._all.find({"closes_at": {"$lte": by}}, sort=_ORDER, limit=limit)
        return [
            DigestItem(
                tenant_id=d["tenant_id"],
                notification_id=d["notification_id"],
                recipient_id=d["recipient_id"],
                email=d["email"],
                kind=d.get("kind") or "",
                title=d.get("title") or "",
                body=d.get("body") or "",
                record_type=d.get("record_type"),
                record_id=d.get("record_id"),
                created_at=d["created_at"],
                period=int(d["period"]),
                closes_at=d.get("closes_at"),
            )
            async for d in cursor
        ]

    async def remove(self, items: Sequence[DigestItem]) -> None:
        for item in items:  # point deletes by _id (FerretDB serves them from the index)
            await self._all.delete_one({"_id": f"{item.tenant_id}:{item.notification_id}"})


def notification_email_handler(notifications: EmailNotifications) -> dict[str, Handler]:
    async def notification_created(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, NotificationCreated)
        await notifications.notification_created(event, payload)

    return {NotificationCreated.event_type: notification_created}
