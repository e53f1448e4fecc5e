"""Mongo storage of notifications and notification preferences (one tenant each).

Every notification, a user's own or an audience's, is one document under its derived id: an
insert is the claim (atomic on MongoDB and FerretDB), so a redelivered event or two replicas
store it once, and its ``notification_created`` event rides in the outbox with it. The only
updates are a user marking their own notifications read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from crm_common.clock import utc_now
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import IDS_FIELD, staged_events
from crm_common.mongo import Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey
from crm_engagement.domain.notification import (
    Channel,
    EmailMode,
    KindPreference,
    Notification,
    NotificationKind,
    Preferences,
)

NOTIFICATIONS = "notifications"
NOTIFICATION_PREFERENCES = "notification_preferences"

NOTIFICATION_INDEXES = {
    NOTIFICATIONS: [
        # The inbox page, newest first (every read names the recipient and the inbox flag).
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("recipient", ASCENDING),
                ("inbox", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="inbox_newest",
        ),
        # Unread items: the unread-only page, the unread count, "mark all read".
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("recipient", ASCENDING),
                ("inbox", ASCENDING),
                ("read", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="inbox_unread_newest",
        ),
        # Audience notifications stored since a user's last look (copied into their inbox).
        IndexModel(
            [("tenant_id", ASCENDING), ("recipient", ASCENDING), ("stored_at", ASCENDING)],
            name="audience_stored",
        ),
    ],
    NOTIFICATION_PREFERENCES: [
        # The known members of an audience (to e-mail an audience notification).
        IndexModel([("tenant_id", ASCENDING), ("audiences", ASCENDING)], name="by_audience"),
    ],
}
NOTIFICATION_OUTBOX_COLLECTIONS = [NOTIFICATIONS]

_SORT = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]
_EMPTY: Page[Any] = Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)


def _doc(n: Notification, stored_at: datetime) -> Document:
    return {
        "_id": n.id,
        "tenant_id": n.tenant_id,
        "recipient": n.recipient,
        "kind": n.kind.value,
        "title": n.title,
        "body": n.body,
        "created_at": n.created_at,
        "stored_at": stored_at,
        "source_event_id": n.source_event_id,
        "record_type": n.record_type,
        "record_id": n.record_id,
        "customer_id": n.customer_id,
        "read_at": n.read_at,
        "read": n.read_at is not None,
        "inbox": n.inbox,
        "audience_id": n.audience_id,
    }


def _notification(doc: Document) -> Notification:
    return Notification(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        recipient=doc["recipient"],
        kind=NotificationKind(doc["kind"]),
        title=doc["title"],
        body=doc["body"],
        created_at=doc["created_at"],
        source_event_id=doc["source_event_id"],
        record_type=doc.get("record_type"),
        record_id=doc.get("record_id"),
        customer_id=doc.get("customer_id"),
        read_at=doc.get("read_at"),
        inbox=bool(doc.get("inbox", True)),
        audience_id=doc.get("audience_id"),
        stored_at=doc.get("stored_at"),
    )


def _visible(customer_ids: Sequence[str] | None) -> Document:
    """Records about a customer the caller sees now, or about no customer."""
    if customer_ids is None:
        return {}
    ids = list(customer_ids)
    return {"$or": [{"customer_id": None}, {"customer_id": {"$in": ids}}]}


class MongoNotificationRepository(TenantRepository):
    collection_name = NOTIFICATIONS

    async def add(self, notification: Notification, events: Sequence[CloudEvent]) -> bool:
        doc = _doc(notification, utc_now())
        async with staged_events(self._db, NOTIFICATIONS, notification.id, events) as staged:
            try:
                await self.collection.insert_one({**doc, **staged.fields})
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def add_copy(self, notification: Notification) -> bool:
        try:
            await self.collection.insert_one(_doc(notification, utc_now()))
        except DuplicateKeyError:
            return False
        return True

    async def add_announced(self, notification: Notification, events: Sequence[CloudEvent]) -> bool:
        if await self.add(notification, events):
            return True
        # A copy made by a look carries no outbox ids; one announced already does.
        async with staged_events(self._db, NOTIFICATIONS, notification.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": notification.id, IDS_FIELD: {"$exists": False}}),
                staged.merged({}),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1

    async def get(self, notification_id: str) -> Notification | None:
        doc = await self.collection.find_one(self.scoped({"_id": notification_id}))
        return _notification(doc) if doc else None

    def _inbox(
        self, recipient: str, unread_only: bool, customer_ids: Sequence[str] | None
    ) -> Document:
        query: Document = {"recipient": recipient, "inbox": True, **_visible(customer_ids)}
        if unread_only:
            query["read"] = False
        return query

    async def page(
        self,
        recipient: str,
        unread_only: bool,
        customer_ids: Sequence[str] | None,
        page: PageRequest,
    ) -> Page[Notification]:
        query = self._inbox(recipient, unread_only, customer_ids)
        return (await self.paginate(query, _SORT, page)).map(_notification)

    async def unread_count(self, recipient: str, customer_ids: Sequence[str] | None) -> int:
        return await self.collection.count_documents(
            self.scoped(self._inbox(recipient, True, customer_ids))
        )

    async def mark_read(self, notification_id: str, recipient: str, at: datetime) -> bool:
        result = await self.collection.update_one(
            self.scoped({"_id": notification_id, "recipient": recipient, "read": False}),
            {"$set": {"read": True, "read_at": at}},
        )
        return result.modified_count == 1

    async def mark_all_read(
        self, recipient: str, customer_ids: Sequence[str] | None, at: datetime
    ) -> int:
        result = await self.collection.update_many(
            self.scoped(self._inbox(recipient, True, customer_ids)),
            {"$set": {"read": True, "read_at": at}},
        )
        return result.modified_count

    async def audience_since(
        self, keys: Sequence[str], stored_from: datetime, limit: int
    ) -> list[Notification]:
        ids = list(keys)
        cursor = self.collection.find(
            self.scoped(
                {
                    "recipient": ids[0] if len(ids) == 1 else {"$in": ids},
                    "stored_at": {"$gte": stored_from},
                }
            ),
            sort=[("stored_at", ASCENDING)],
            limit=limit,
        )
        return [_notification(doc) async for doc in cursor]


def _kind_doc(pref: KindPreference) -> Document:
    return {
        "enabled": pref.enabled,
        "channels": sorted(c.value for c in pref.channels),
        "email_mode": pref.email_mode.value,
    }


def _kind_from(raw: Document) -> KindPreference:
    return KindPreference(
        enabled=bool(raw.get("enabled", True)),
        channels=frozenset(Channel(c) for c in raw.get("channels") or ()),
        email_mode=EmailMode(raw.get("email_mode") or EmailMode.IMMEDIATE.value),
    )


def _preferences(doc: Document) -> Preferences:
    kinds = {}
    for name, raw in (doc.get("kinds") or {}).items():
        if name in NotificationKind.__members__:
            kinds[NotificationKind(name)] = _kind_from(raw)
    return Preferences(
        user_id=doc["user_id"],
        email=doc.get("email"),
        kinds=kinds,
        audience_synced_at=doc.get("audience_synced_at"),
        audiences=frozenset(doc.get("audiences") or ()),
    )


class MongoNotificationPreferences(TenantRepository):
    """One document per user: ``{tenant}:{user}`` (the user's e-mail address, kinds, sync)."""

    collection_name = NOTIFICATION_PREFERENCES

    def _id(self, user_id: str) -> str:
        return f"{self.tenant_id}:{user_id}"

    async def get(self, user_id: str) -> Preferences | None:
        doc = await self.collection.find_one(self.scoped({"_id": self._id(user_id)}))
        if doc is None:
            return None
        return _preferences(doc)

    async def members(self, audience: str, limit: int) -> list[Preferences]:
        cursor = self.collection.find({"audiences": audience}, limit=limit)
        return [_preferences(doc) async for doc in cursor]

    async def save(self, preferences: Preferences) -> None:
        await self.collection.update_one(
            self.scoped({"_id": self._id(preferences.user_id)}),
            {
                "$set": {
                    "user_id": preferences.user_id,
                    "email": preferences.email,
                    "kinds": {k.value: _kind_doc(v) for k, v in preferences.kinds.items()},
                    "audience_synced_at": preferences.audience_synced_at,
                    "audiences": sorted(preferences.audiences),
                }
            },
            upsert=True,
        )
