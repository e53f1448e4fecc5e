"""Mongo repositories of the engagement service: all its queries live here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel

from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import outbox_fields
from crm_common.mongo import Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey
from crm_engagement.domain.interaction import CustomerRef, Interaction, InteractionKind

CUSTOMER_REFS = "customer_refs"
INTERACTIONS = "interactions"

INDEXES = {
    CUSTOMER_REFS: [IndexModel([("tenant_id", ASCENDING), ("_id", ASCENDING)])],
    INTERACTIONS: [
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("occurred_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("owner_id", ASCENDING), ("occurred_at", DESCENDING)]
        ),
        IndexModel([("_outbox_pending", ASCENDING)]),
    ],
}


class MongoCustomerRefRepository(TenantRepository):
    collection_name = CUSTOMER_REFS

    async def get(self, customer_id: str) -> CustomerRef | None:
        doc = await self.collection.find_one(self.scoped({"_id": customer_id}))
        if doc is None:
            return None
        return CustomerRef(
            id=doc["_id"],
            tenant_id=doc["tenant_id"],
            name=doc["name"],
            owner_id=doc["owner_id"],
            team=doc.get("team"),
        )

    async def upsert(self, ref: CustomerRef, event_time: datetime) -> None:
        # Applying an older event after a newer one must not roll the reference back.
        fields = {"name": ref.name, "owner_id": ref.owner_id, "team": ref.team, "as_of": event_time}
        existing = await self.collection.find_one({"_id": ref.id}, {"as_of": 1, "tenant_id": 1})
        if existing is None:
            await self.collection.update_one(
                {"_id": ref.id},
                {"$setOnInsert": {"tenant_id": self.tenant_id, **fields}},
                upsert=True,
            )
            return
        if existing.get("tenant_id") != self.tenant_id:
            raise ValueError("customer id already belongs to another tenant")
        await self.collection.update_one(
            {"_id": ref.id, "tenant_id": self.tenant_id, "as_of": {"$lte": event_time}},
            {"$set": fields},
        )


def _to_document(interaction: Interaction) -> Document:
    return {
        "_id": interaction.id,
        "tenant_id": interaction.tenant_id,
        "customer_id": interaction.customer_id,
        "kind": interaction.kind.value,
        "occurred_at": interaction.occurred_at,
        "content": interaction.content,
        "owner_id": interaction.owner_id,
        "created_at": interaction.created_at,
        "feedback": interaction.feedback,
        "objections": interaction.objections,
        "next_steps": interaction.next_steps,
        "participants": list(interaction.participants),
    }


def _from_document(doc: Document) -> Interaction:
    return Interaction(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        kind=InteractionKind(doc["kind"]),
        occurred_at=doc["occurred_at"],
        content=doc["content"],
        owner_id=doc["owner_id"],
        created_at=doc["created_at"],
        feedback=doc.get("feedback"),
        objections=doc.get("objections"),
        next_steps=doc.get("next_steps"),
        participants=tuple(doc.get("participants") or ()),
    )


class MongoInteractionRepository(TenantRepository):
    collection_name = INTERACTIONS

    async def add(self, interaction: Interaction, events: Sequence[CloudEvent]) -> None:
        await self.collection.insert_one({**_to_document(interaction), **outbox_fields(events)})

    async def get(self, interaction_id: str) -> Interaction | None:
        doc = await self.collection.find_one(self.scoped({"_id": interaction_id}))
        return _from_document(doc) if doc else None

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[Interaction]:
        sort = [SortKey("occurred_at", descending=True), SortKey("_id", descending=True)]
        return (await self.paginate({"customer_id": customer_id}, sort, page)).map(_from_document)
