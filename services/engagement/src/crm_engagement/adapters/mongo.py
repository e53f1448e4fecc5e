"""Mongo repositories of the engagement service: all its queries live here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.customers.copies import (
    COPY_INDEXES,
    CUSTOMER_COPIES,
    CopiedCustomer,
    CustomerCopy,
)
from crm_common.customers.repoint import MERGED_FROM, CustomerRecords, RepointTarget
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import staged_events
from crm_common.mongo import CrossTenant, Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey, cursor_for, mongo_sort
from crm_engagement.domain.activity import Activity, ActivityKind, Registration
from crm_engagement.domain.care import (
    CarePlan,
    CarePlanSettings,
    Segment,
    TouchCampaign,
    TouchKind,
)
from crm_engagement.domain.followup import (
    ACTIVE,
    EngagementSettings,
    FollowUp,
    FollowUpOrigin,
    FollowUpStatus,
    FollowUpType,
    Priority,
)
from crm_engagement.domain.interaction import (
    Correction,
    CustomerRef,
    FileRef,
    Interaction,
    InteractionKind,
    Participant,
    ParticipantKind,
)
from crm_engagement.domain.timeline import TimelineEntry
from crm_engagement.domain.timeliness import is_late_entry
from crm_engagement.service.ports import FollowUpQuery, InteractionQuery, SegmentMember

CUSTOMER_REFS = CUSTOMER_COPIES
INTERACTIONS = "interactions"
FOLLOWUPS = "followups"
ACTIVITIES = "activities"
REGISTRATIONS = "registrations"
TIMELINE = "timeline"
SETTINGS = "settings"
REMINDERS = "reminders"
CARE_PLANS = "care_plans"
TOUCH_CAMPAIGNS = "touch_campaigns"
OUTBOX_COLLECTIONS = [
    INTERACTIONS,
    FOLLOWUPS,
    REGISTRATIONS,
    REMINDERS,
    CARE_PLANS,
    TOUCH_CAMPAIGNS,
]
# What a customer merge re-points (`crm_common.customers.repoint`).
REPOINTED = [RepointTarget(c) for c in (INTERACTIONS, FOLLOWUPS, REGISTRATIONS, TIMELINE)]

INDEXES = {
    CUSTOMER_REFS: [
        *COPY_INDEXES,
        # The 24-hour contact rule's report: customers by the time of their first touch.
        IndexModel(
            [("tenant_id", ASCENDING), ("first_touch_at", ASCENDING)], name="by_first_touch"
        ),
    ],
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
            [
                ("tenant_id", ASCENDING),
                ("owner_id", ASCENDING),
                ("occurred_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("occurred_at", DESCENDING), ("_id", DESCENDING)],
            name="by_time_id",
        ),
    ],
    FOLLOWUPS: [
        # "My follow-ups": always by status (open ones, or the ones asked for), due first.
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("assignee_id", ASCENDING),
                ("status", ASCENDING),
                ("due_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="by_assignee_status",
        ),
        # "Follow-ups I joined": multikey on the participants, by status, due first.
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("participant_ids", ASCENDING),
                ("status", ASCENDING),
                ("due_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="by_participant_status",
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("due_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="by_customer_due",
        ),
        # The follow-ups of one origin: a care plan's visits (withdrawn after a churn), a
        # touch campaign's follow-ups (its progress), by status.
        IndexModel(
            [("tenant_id", ASCENDING), ("origin_event_id", ASCENDING), ("status", ASCENDING)],
            name="by_origin_status",
        ),
        # What the reminder scheduler scans, across tenants.
        IndexModel(
            [("due_notified", ASCENDING), ("status", ASCENDING), ("remind_at", ASCENDING)],
            name="reminder_scan",
        ),
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)], name="overdue_scan"),
    ],
    ACTIVITIES: [
        IndexModel(
            [("tenant_id", ASCENDING), ("starts_at", DESCENDING), ("_id", DESCENDING)],
            name="by_start_id",
        ),
        # The newest activities of one kind (customersByActivity by kind).
        IndexModel(
            [("tenant_id", ASCENDING), ("kind", ASCENDING), ("starts_at", DESCENDING)],
            name="by_kind_start",
        ),
    ],
    REGISTRATIONS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("key", ASCENDING)], name="one_per_person", unique=True
        ),
        *(
            IndexModel(
                [
                    ("tenant_id", ASCENDING),
                    (field, ASCENDING),
                    ("registered_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name=f"by_{field.removesuffix('_id')}_newest",
            )
            for field in ("customer_id", "activity_id")
        ),
    ],
    # Read by _id (the plan id derives from the deal event); an owner change and a loss
    # (churn, deletion) find a customer's plans.
    CARE_PLANS: [
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="by_customer")
    ],
    # Written once per planned touch; listed newest first (touchCampaigns): the tenant's, or
    # a manager's team's (multikey on the segment's teams).
    TOUCH_CAMPAIGNS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
            name="newest",
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("segment.teams", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="by_team_newest",
        ),
    ],
    TIMELINE: [
        IndexModel(
            [("tenant_id", ASCENDING), ("event_id", ASCENDING)], name="one_per_event", unique=True
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("occurred_at", ASCENDING),
                ("event_id", ASCENDING),
            ],
            name="by_customer_time",
        ),
    ],
}

_EMPTY_PAGE: Page[Any] = Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)


# --- customer references -------------------------------------------------------------------


def _ref_from(customer: CopiedCustomer) -> CustomerRef:
    return CustomerRef(
        id=customer.id,
        tenant_id=customer.tenant_id,
        name=customer.name,
        owner_id=customer.owner_id,
        team=customer.team,
        priority=customer.local.get("priority") or Priority.MEDIUM.value,
        last_interaction_at=customer.local.get("last_interaction_at"),
        merged_into=customer.merged_into,
        cadence=customer.local.get("engagement_cadence"),
    )


class MongoCustomerRefs:
    """Engagement's view of the shared customer copy (`crm_common.customers.copies`, kept from
    the customer events), plus two fields of its own on the same documents: the priority and
    the time of the last interaction."""

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._copy = CustomerCopy(db, tenant_id)
        self.tenant_id = tenant_id

    async def get(self, customer_id: str) -> CustomerRef | None:
        customer = await self._copy.get(customer_id)
        return _ref_from(customer) if customer else None

    async def get_many(self, customer_ids: Sequence[str]) -> dict[str, CustomerRef]:
        return {k: _ref_from(v) for k, v in (await self._copy.get_many(customer_ids)).items()}

    async def set_priority(self, customer_id: str, priority: str) -> None:
        await self._copy.set_local(customer_id, {"priority": priority})

    async def touch_last_interaction(self, customer_id: str, at: datetime) -> None:
        earlier = {"$or": [{"last_interaction_at": None}, {"last_interaction_at": {"$lt": at}}]}
        await self._copy.set_local(customer_id, {"last_interaction_at": at}, only_if=earlier)

    async def visible_ids(self, owner_id: str | None, team: str | None) -> list[str]:
        return await self._copy.visible_ids(owner_id, team)

    async def touch_first_interaction(self, customer_id: str, at: datetime, by: str) -> None:
        later = {"$or": [{"first_touch_at": None}, {"first_touch_at": {"$gt": at}}]}
        await self._copy.set_local(
            customer_id, {"first_touch_at": at, "first_touch_by": by}, only_if=later
        )

    async def note_contact(self, customer_id: str, at: datetime) -> None:
        later = {"$or": [{"first_contact_at": None}, {"first_contact_at": {"$gt": at}}]}
        await self._copy.set_local(customer_id, {"first_contact_at": at}, only_if=later)

    async def first_touches(
        self, period_from: datetime, period_to: datetime, customer_ids: Sequence[str] | None
    ) -> list[tuple[str, datetime, datetime | None]]:
        query: Document = {"first_touch_at": {"$gte": period_from, "$lte": period_to}}
        if customer_ids is not None:
            query["_id"] = {"$in": list(customer_ids)}
        cursor = self._copy.collection.find(
            query, {"first_touch_by": 1, "first_touch_at": 1, "first_contact_at": 1}
        )
        return [
            (doc.get("first_touch_by") or "", doc["first_touch_at"], doc.get("first_contact_at"))
            async for doc in cursor
        ]


def customer_records(db: AsyncDatabase[Document], tenant_id: str) -> CustomerRecords:
    """The tenant's records that name a customer (`REPOINTED`), re-pointed after a merge."""
    return CustomerRecords(db, tenant_id, REPOINTED)


# --- interactions ---------------------------------------------------------------------------


def _participant_doc(p: Participant) -> Document:
    return {
        "kind": p.kind.value,
        "name": p.name,
        "ref_id": p.ref_id,
        "email": p.email,
        "phone": p.phone,
    }


def _participant_from(raw: Any) -> Participant:
    if isinstance(raw, str):  # the walking skeleton stored plain names
        return Participant(kind=ParticipantKind.USER, name=raw)
    return Participant(
        kind=ParticipantKind(raw["kind"]),
        name=raw["name"],
        ref_id=raw.get("ref_id"),
        email=raw.get("email"),
        phone=raw.get("phone"),
    )


def _file_doc(f: FileRef) -> Document:
    return {
        "file_id": f.file_id,
        "name": f.name,
        "content_type": f.content_type,
        "size_bytes": f.size_bytes,
    }


def _interaction_doc(interaction: Interaction) -> Document:
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
        "participants": [_participant_doc(p) for p in interaction.participants],
        "attachments": [_file_doc(f) for f in interaction.attachments],
        "corrections": [],
        "edited_at": interaction.edited_at,
        "followup_id": interaction.followup_id,
        # The 24-hour rule, stored for the per-rep report (domain.timeliness).
        "late_entry": is_late_entry(interaction.occurred_at, interaction.created_at),
    }


def _interaction_from(doc: Document) -> Interaction:
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
        participants=tuple(_participant_from(p) for p in doc.get("participants") or ()),
        attachments=tuple(
            FileRef(
                file_id=f["file_id"],
                name=f["name"],
                content_type=f.get("content_type"),
                size_bytes=f.get("size_bytes"),
            )
            for f in doc.get("attachments") or ()
        ),
        corrections=tuple(
            Correction(id=c["id"], text=c["text"], author_id=c["author_id"], at=c["at"])
            for c in doc.get("corrections") or ()
        ),
        edited_at=doc.get("edited_at"),
        followup_id=doc.get("followup_id"),
    )


_INTERACTION_SORT = [SortKey("occurred_at", descending=True), SortKey("_id", descending=True)]


class MongoInteractionRepository(TenantRepository):
    collection_name = INTERACTIONS

    async def add(self, interaction: Interaction, events: Sequence[CloudEvent]) -> None:
        async with staged_events(self._db, INTERACTIONS, interaction.id, events) as staged:
            await self.collection.insert_one({**_interaction_doc(interaction), **staged.fields})

    async def get(self, interaction_id: str) -> Interaction | None:
        doc = await self.collection.find_one(self.scoped({"_id": interaction_id}))
        return _interaction_from(doc) if doc else None

    async def replace_editable(self, interaction: Interaction, created_before: datetime) -> bool:
        doc = _interaction_doc(interaction)
        editable = (
            "content", "occurred_at", "feedback", "objections", "next_steps",
            "participants", "attachments", "edited_at", "late_entry",
        )  # fmt: skip
        result = await self.collection.update_one(
            self.scoped({"_id": interaction.id, "created_at": {"$gte": created_before}}),
            {"$set": {name: doc[name] for name in editable}},
        )
        return result.matched_count == 1

    async def add_correction(self, interaction_id: str, correction: Correction) -> None:
        await self.collection.update_one(
            self.scoped({"_id": interaction_id}),
            {
                "$push": {
                    "corrections": {
                        "id": correction.id,
                        "text": correction.text,
                        "author_id": correction.author_id,
                        "at": correction.at,
                    }
                }
            },
        )

    async def list(self, query: InteractionQuery, page: PageRequest) -> Page[Interaction]:
        mongo: Document = {}
        if query.customer_ids is not None:
            if not query.customer_ids:
                return _EMPTY_PAGE
            ids = list(query.customer_ids)
            mongo["customer_id"] = ids[0] if len(ids) == 1 else {"$in": ids}
        if query.owner_id is not None:
            mongo["owner_id"] = query.owner_id
        if query.kind is not None:
            mongo["kind"] = query.kind
        period: Document = {}
        if query.occurred_from is not None:
            period["$gte"] = query.occurred_from
        if query.occurred_to is not None:
            period["$lte"] = query.occurred_to
        if period:
            mongo["occurred_at"] = period
        return (await self.paginate(mongo, _INTERACTION_SORT, page)).map(_interaction_from)

    async def first_pages(
        self, customer_ids: Sequence[str], size: int
    ) -> dict[str, Page[Interaction]]:
        ids = list(dict.fromkeys(customer_ids))
        counts: dict[str, int] = {}
        pipeline: list[Document] = [
            {"$match": self.scoped({"customer_id": {"$in": ids}})},
            {"$group": {"_id": "$customer_id", "n": {"$sum": 1}}},
        ]
        async for row in await self.collection.aggregate(pipeline):
            counts[row["_id"]] = row["n"]
        items: dict[str, list[Document]] = {cid: [] for cid in ids}
        more: dict[str, bool] = {cid: counts.get(cid, 0) > size for cid in ids}
        if size > 0:
            # One bounded query per customer that has any: at most size + 1 documents each
            # (the extra one answers hasNextPage), never every interaction of the batch.
            for cid in ids:
                if counts.get(cid):
                    cursor = self.collection.find(
                        {"customer_id": cid}, sort=mongo_sort(_INTERACTION_SORT), limit=size + 1
                    )
                    docs = [doc async for doc in cursor]
                    items[cid], more[cid] = docs[:size], len(docs) > size
        return {
            cid: Page(
                items=[
                    (_interaction_from(d), cursor_for(d, _INTERACTION_SORT)) for d in items[cid]
                ],
                has_next_page=more[cid],
                has_previous_page=False,
                total_count=max(counts.get(cid, 0), len(items[cid])),
            )
            for cid in ids
        }

    async def count_by_owner(self, query: InteractionQuery, late_only: bool) -> dict[str, int]:
        mongo: Document = {}
        if query.customer_ids is not None:
            if not query.customer_ids:
                return {}
            mongo["customer_id"] = {"$in": list(query.customer_ids)}
        if query.owner_id is not None:
            mongo["owner_id"] = query.owner_id
        period: Document = {}
        if query.occurred_from is not None:
            period["$gte"] = query.occurred_from
        if query.occurred_to is not None:
            period["$lte"] = query.occurred_to
        if period:
            mongo["occurred_at"] = period
        if late_only:
            mongo["late_entry"] = True
        pipeline: list[Document] = [
            {"$match": self.scoped(mongo)},
            {"$group": {"_id": "$owner_id", "n": {"$sum": 1}}},
        ]
        return {
            row["_id"]: int(row["n"]) async for row in await self.collection.aggregate(pipeline)
        }

    async def latest_for(self, customer_id: str) -> datetime | None:
        doc = await self.collection.find_one(
            self.scoped({"customer_id": customer_id}),
            {"occurred_at": 1},
            sort=[("occurred_at", DESCENDING)],
        )
        return doc["occurred_at"] if doc else None


# --- follow-ups -----------------------------------------------------------------------------


def _followup_doc(task: FollowUp) -> Document:
    return {
        "_id": task.id,
        "tenant_id": task.tenant_id,
        "customer_id": task.customer_id,
        "type": task.type.value,
        "due_at": task.due_at,
        "remind_at": task.remind_at,
        "priority": task.priority.value,
        "goal": task.goal,
        "assignee_id": task.assignee_id,
        "status": task.status.value,
        "created_by": task.created_by,
        "created_at": task.created_at,
        "origin": task.origin.value,
        "origin_event_id": task.origin_event_id,
        "completed_at": task.completed_at,
        "outcome": task.outcome,
        "interaction_id": task.interaction_id,
        "participant_ids": list(task.participant_ids),
    }


def _followup_from(doc: Document) -> FollowUp:
    return FollowUp(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        type=FollowUpType(doc["type"]),
        due_at=doc["due_at"],
        remind_at=doc["remind_at"],
        priority=Priority(doc["priority"]),
        goal=doc["goal"],
        assignee_id=doc["assignee_id"],
        status=FollowUpStatus(doc["status"]),
        created_by=doc["created_by"],
        created_at=doc["created_at"],
        origin=FollowUpOrigin(doc.get("origin") or "manual"),
        origin_event_id=doc.get("origin_event_id"),
        completed_at=doc.get("completed_at"),
        outcome=doc.get("outcome"),
        interaction_id=doc.get("interaction_id"),
        participant_ids=tuple(doc.get("participant_ids") or ()),
    )


_ACTIVE_VALUES = [s.value for s in ACTIVE]


class MongoFollowUpRepository(TenantRepository):
    collection_name = FOLLOWUPS

    async def add(self, task: FollowUp, events: Sequence[CloudEvent]) -> bool:
        doc = {
            **_followup_doc(task),
            "due_notified": False,
            "overdue_notified": False,
        }
        async with staged_events(self._db, FOLLOWUPS, task.id, events) as staged:
            try:
                await self.collection.insert_one({**doc, **staged.fields})
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def get(self, followup_id: str) -> FollowUp | None:
        doc = await self.collection.find_one(self.scoped({"_id": followup_id}))
        return _followup_from(doc) if doc else None

    async def finish(
        self, task: FollowUp, expected: Sequence[FollowUpStatus], events: Sequence[CloudEvent]
    ) -> bool:
        fields = {
            "status": task.status.value,
            "completed_at": task.completed_at,
            "outcome": task.outcome,
            "interaction_id": task.interaction_id,
        }
        update: Document = {"$set": fields}
        async with staged_events(self._db, FOLLOWUPS, task.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": task.id, "status": {"$in": [s.value for s in expected]}}),
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1

    async def list(self, query: FollowUpQuery, page: PageRequest) -> Page[FollowUp]:
        mongo: Document = {}
        if query.assignee_id is not None:
            mongo["assignee_id"] = query.assignee_id
        if query.participant_id is not None:
            mongo["participant_ids"] = query.participant_id
        if query.customer_ids is not None:
            mongo["customer_id"] = {"$in": list(query.customer_ids)}
        if query.statuses:
            mongo["status"] = {"$in": [s.value for s in query.statuses]}
        if query.remind_before is not None:
            mongo["remind_at"] = {"$lte": query.remind_before}
        due: Document = {}
        if query.due_from is not None:
            due["$gte"] = query.due_from
        if query.due_before is not None:
            due["$lt"] = query.due_before
        if due:
            mongo["due_at"] = due
        sort = [SortKey("due_at"), SortKey("_id")]
        return (await self.paginate(mongo, sort, page)).map(_followup_from)

    async def set_participants(self, task: FollowUp, events: Sequence[CloudEvent]) -> bool:
        update: Document = {"$set": {"participant_ids": list(task.participant_ids)}}
        async with staged_events(self._db, FOLLOWUPS, task.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": task.id, "status": {"$in": _ACTIVE_VALUES}}),
                staged.merged(update),
            )
            if result.matched_count != 1:
                staged.abandon()
        return result.matched_count == 1


class MongoReminderStore:
    """The scheduler's view of follow-ups across all tenants (claims are per task)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the reminder loop scans every tenant's due follow-ups; each
        # write names the task's own tenant.
        self._collection = CrossTenant(db)[FOLLOWUPS]
        self._reminders = CrossTenant(db)[REMINDERS]
        self._db = db  # for the outbox (one queue for every tenant)

    async def due_candidates(self, now: datetime, limit: int) -> list[FollowUp]:
        cursor = self._collection.find(
            {"due_notified": False, "remind_at": {"$lte": now}, "status": {"$in": _ACTIVE_VALUES}},
            sort=[("remind_at", ASCENDING)],
            limit=limit,
        )
        return [_followup_from(doc) async for doc in cursor]

    async def overdue_candidates(self, now: datetime, limit: int) -> list[FollowUp]:
        cursor = self._collection.find(
            # Keyed on the status, not the flag: if a status write was lost (FerretDB applies
            # updates read-then-write), the next round claims again (a no-op) and re-applies it.
            {"due_at": {"$lte": now}, "status": FollowUpStatus.OPEN.value},
            sort=[("due_at", ASCENDING)],
            limit=limit,
        )
        return [_followup_from(doc) async for doc in cursor]

    async def claim_due(self, task: FollowUp, event: CloudEvent) -> bool:
        won = await self._claim(task, "due", event)
        await self._collection.update_one(
            {"_id": task.id, "tenant_id": task.tenant_id}, {"$set": {"due_notified": True}}
        )
        return won

    async def claim_overdue(self, task: FollowUp, event: CloudEvent) -> bool:
        won = await self._claim(task, "overdue", event)
        await self._collection.update_one(
            {"_id": task.id, "tenant_id": task.tenant_id, "status": FollowUpStatus.OPEN.value},
            {"$set": {"status": FollowUpStatus.OVERDUE.value, "overdue_notified": True}},
        )
        return won

    async def _claim(self, task: FollowUp, kind: str, event: CloudEvent) -> bool:
        """Insert the one claim document of (task, kind), its event staged in the outbox.

        An insert under a unique ``_id`` is atomic on MongoDB and FerretDB alike (FerretDB 1.x
        applies a conditional update as read-then-write, so two replicas could both "win" a
        ``update_one`` claim); the loser gets a duplicate key and publishes nothing.
        """
        claim_id = f"{task.id}:{kind}"
        async with staged_events(self._db, REMINDERS, claim_id, [event]) as staged:
            try:
                await self._reminders.insert_one(
                    {
                        "_id": claim_id,
                        "tenant_id": task.tenant_id,
                        "followup_id": task.id,
                        "kind": kind,
                        **staged.fields,
                    }
                )
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True


# --- activities and registrations -----------------------------------------------------------


def _activity_from(doc: Document) -> Activity:
    return Activity(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        kind=ActivityKind(doc["kind"]),
        title=doc["title"],
        starts_at=doc["starts_at"],
        ends_at=doc.get("ends_at"),
        location=doc.get("location"),
        created_by=doc["created_by"],
        created_at=doc["created_at"],
    )


def _registration_from(doc: Document) -> Registration:
    contact = doc.get("contact")
    return Registration(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        activity_id=doc["activity_id"],
        customer_id=doc["customer_id"],
        contact=_participant_from(contact) if contact else None,
        registered_by=doc["registered_by"],
        registered_at=doc["registered_at"],
        attended=doc.get("attended"),
        attendance_recorded_at=doc.get("attendance_recorded_at"),
    )


class MongoActivityRepository(TenantRepository):
    collection_name = ACTIVITIES

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        super().__init__(db, tenant_id)
        self._registrations = self.tenant_collection(REGISTRATIONS)

    async def add(self, activity: Activity) -> None:
        await self.collection.insert_one(
            {
                "_id": activity.id,
                "tenant_id": activity.tenant_id,
                "kind": activity.kind.value,
                "title": activity.title,
                "starts_at": activity.starts_at,
                "ends_at": activity.ends_at,
                "location": activity.location,
                "created_by": activity.created_by,
                "created_at": activity.created_at,
            }
        )

    async def get(self, activity_id: str) -> Activity | None:
        doc = await self.collection.find_one(self.scoped({"_id": activity_id}))
        return _activity_from(doc) if doc else None

    async def get_many(self, activity_ids: Sequence[str]) -> dict[str, Activity]:
        return {k: _activity_from(v) for k, v in (await self.find_by_ids(activity_ids)).items()}

    async def list(self, page: PageRequest) -> Page[Activity]:
        sort = [SortKey("starts_at", descending=True), SortKey("_id", descending=True)]
        return (await self.paginate({}, sort, page)).map(_activity_from)

    async def add_registration(
        self, registration: Registration, key: str, events: Sequence[CloudEvent]
    ) -> bool:
        doc = {
            "_id": registration.id,
            "tenant_id": registration.tenant_id,
            "key": key,
            "activity_id": registration.activity_id,
            "customer_id": registration.customer_id,
            "contact": _participant_doc(registration.contact) if registration.contact else None,
            "registered_by": registration.registered_by,
            "registered_at": registration.registered_at,
            "attended": None,
            "attendance_recorded_at": None,
        }
        async with staged_events(self._db, REGISTRATIONS, registration.id, events) as staged:
            try:
                await self._registrations.insert_one({**doc, **staged.fields})
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def get_registration(self, registration_id: str) -> Registration | None:
        doc = await self._registrations.find_one({"_id": registration_id})
        return _registration_from(doc) if doc else None

    async def record_attendance(
        self, registration: Registration, events: Sequence[CloudEvent]
    ) -> bool:
        update: Document = {
            "$set": {
                "attended": registration.attended,
                "attendance_recorded_at": registration.attendance_recorded_at,
            }
        }
        async with staged_events(self._db, REGISTRATIONS, registration.id, events) as staged:
            result = await self._registrations.update_one(
                {"_id": registration.id, "attended": None}, staged.merged(update)
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1

    async def registrations(
        self, customer_ids: Sequence[str] | None, activity_id: str | None, page: PageRequest
    ) -> Page[Registration]:
        query: Document = {}
        if customer_ids is not None:
            query["customer_id"] = {"$in": list(customer_ids)}
        if activity_id is not None:
            query["activity_id"] = activity_id
        sort = [SortKey("registered_at", descending=True), SortKey("_id", descending=True)]
        # The paginate helper works on this repository's collection; registrations live apart.
        return (await _RegistrationView(self._db, self.tenant_id).paginate(query, sort, page)).map(
            _registration_from
        )

    async def ids_of_kind(self, kind: str, limit: int) -> Sequence[str]:
        cursor = self.collection.find(
            {"kind": kind}, {"_id": 1}, sort=[("starts_at", DESCENDING)], limit=limit
        )
        return [doc["_id"] async for doc in cursor]

    async def registered_customers(
        self,
        activity_ids: Sequence[str],
        attended: bool | str | None,
        customer_ids: Sequence[str] | None,
        after: str | None,
        size: int,
    ) -> tuple[Sequence[str], bool, int]:
        ids = list(activity_ids)
        match: Document = {"activity_id": ids[0] if len(ids) == 1 else {"$in": ids}}
        if attended != "any":
            match["attended"] = attended
        if customer_ids is not None:
            match["customer_id"] = {"$in": list(customer_ids)}
        counted: list[Document] = [
            {"$match": self._registrations.scoped(match)},
            {"$group": {"_id": "$customer_id"}},
            {"$group": {"_id": None, "n": {"$sum": 1}}},
        ]
        total = 0
        async for row in await self._registrations.aggregate(counted):
            total = int(row["n"])
        if after is not None:
            match = {**match, "customer_id": {**match.get("customer_id", {}), "$gt": after}}
        paged: list[Document] = [
            {"$match": self._registrations.scoped(match)},
            {"$group": {"_id": "$customer_id"}},
            {"$sort": {"_id": 1}},
            {"$limit": size + 1},
        ]
        found = [row["_id"] async for row in await self._registrations.aggregate(paged)]
        return found[:size], len(found) > size, total


class _RegistrationView(TenantRepository):
    collection_name = REGISTRATIONS


# --- timeline -------------------------------------------------------------------------------


def _entry_from(doc: Document) -> TimelineEntry:
    return TimelineEntry(
        event_id=doc["event_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        type=doc["type"],
        source=doc["source"],
        occurred_at=doc["occurred_at"],
        data=doc.get("data") or {},
    )


class MongoTimelineRepository(TenantRepository):
    collection_name = TIMELINE

    async def add(self, entry: TimelineEntry) -> bool:
        # An event about a customer merged already goes to the kept one, as the merge's
        # re-pointing would have moved it (the same entry whichever topic is read first).
        customer_id, merged_from = await CustomerCopy(self._db, self.tenant_id).merged_target(
            entry.customer_id
        )
        doc: Document = {
            "_id": f"{entry.tenant_id}:{entry.event_id}",
            "tenant_id": entry.tenant_id,
            "event_id": entry.event_id,
            "customer_id": customer_id,
            "type": entry.type,
            "source": entry.source,
            "occurred_at": entry.occurred_at,
            "data": entry.data,
        }
        if merged_from is not None:
            doc[MERGED_FROM] = merged_from
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def for_customer(
        self,
        customer_id: str,
        types: Sequence[str] | None,
        page: PageRequest,
        newest_first: bool,
    ) -> Page[TimelineEntry]:
        query: Document = {"customer_id": customer_id}
        if types is not None:
            query["type"] = {"$in": list(types)}
        sort = [
            SortKey("occurred_at", descending=newest_first),
            SortKey("event_id", descending=newest_first),
        ]
        return (await self.paginate(query, sort, page)).map(_entry_from)


# --- settings -------------------------------------------------------------------------------


class MongoSettingsRepository(TenantRepository):
    collection_name = SETTINGS

    async def get(self) -> EngagementSettings:
        doc = await self.collection.find_one(self.scoped({"_id": self.tenant_id}))
        if doc is None:
            return EngagementSettings()
        defaults = EngagementSettings()
        return EngagementSettings(
            **{
                name: doc.get(name, getattr(defaults, name))
                for name in EngagementSettings.__dataclass_fields__
            }
        )

    async def save(self, settings: EngagementSettings) -> None:
        fields = {name: getattr(settings, name) for name in EngagementSettings.__dataclass_fields__}
        await self.collection.update_one({"_id": self.tenant_id}, {"$set": fields}, upsert=True)


# --- care plans and segments ----------------------------------------------------------------


def _care_settings_from(raw: Document | None) -> CarePlanSettings:
    defaults = CarePlanSettings()
    raw = raw or {}
    return CarePlanSettings(
        **{
            name: raw.get(name, getattr(defaults, name))
            for name in CarePlanSettings.__dataclass_fields__
        }
    )


def _care_settings_doc(settings: CarePlanSettings) -> Document:
    return {name: getattr(settings, name) for name in CarePlanSettings.__dataclass_fields__}


def _campaign_from(doc: Document) -> TouchCampaign:
    return TouchCampaign(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        kind=TouchKind(doc["kind"]),
        title=doc.get("title") or "",
        message=doc.get("message"),
        segment=Segment.from_document(doc.get("segment")),
        due_at=doc["due_at"],
        planned_by=doc.get("created_by") or "",
        planned_at=doc["created_at"],
        customers=int(doc.get("customers") or 0),
        type=FollowUpType(doc["type"]) if doc.get("type") else None,
    )


class _CampaignView(TenantRepository):
    collection_name = TOUCH_CAMPAIGNS


class MongoCareRepository(TenantRepository):
    """Care plans (one document per plan, keyed by the deal), the care settings (a document of
    their own in ``settings``) and segment look-ups on the customer copy."""

    collection_name = CARE_PLANS

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        super().__init__(db, tenant_id)
        self._settings = self.tenant_collection(SETTINGS)
        self._customers = self.tenant_collection(CUSTOMER_REFS)
        self._campaigns = self.tenant_collection(TOUCH_CAMPAIGNS)
        self._campaigns_view = _CampaignView(db, tenant_id)

    @property
    def _settings_id(self) -> str:
        return f"care-plan:{self.tenant_id}"

    async def settings(self) -> CarePlanSettings:
        return _care_settings_from(await self._settings.find_one({"_id": self._settings_id}))

    async def save_settings(self, settings: CarePlanSettings) -> None:
        await self._settings.update_one(
            {"_id": self._settings_id}, {"$set": _care_settings_doc(settings)}, upsert=True
        )

    async def add_campaign(
        self, campaign_id: str, fields: dict[str, Any], events: Sequence[CloudEvent]
    ) -> None:
        async with staged_events(self._db, TOUCH_CAMPAIGNS, campaign_id, events) as staged:
            await self._campaigns.insert_one(
                {"_id": campaign_id, "tenant_id": self.tenant_id, **fields, **staged.fields}
            )

    async def campaigns(self, team: str | None, page: PageRequest) -> Page[TouchCampaign]:
        query: Document = {} if team is None else {"segment.teams": team}
        sort = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]
        return (await self._campaigns_view.paginate(query, sort, page)).map(_campaign_from)

    async def campaign_counts(self, campaign_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        if not campaign_ids:
            return {}
        pipeline: list[Document] = [
            {"$match": {"origin_event_id": {"$in": list(campaign_ids)}}},
            {"$group": {"_id": {"c": "$origin_event_id", "s": "$status"}, "n": {"$sum": 1}}},
        ]
        counts: dict[str, dict[str, int]] = {c: {} for c in campaign_ids}
        async for row in await self.tenant_collection(FOLLOWUPS).aggregate(pipeline):
            counts.setdefault(row["_id"]["c"], {})[row["_id"]["s"]] = int(row["n"])
        return counts

    async def add_plan(self, plan: CarePlan, events: Sequence[CloudEvent]) -> bool:
        async with staged_events(self._db, CARE_PLANS, plan.id, events) as staged:
            try:
                await self.collection.insert_one(
                    {
                        "_id": plan.id,
                        "tenant_id": plan.tenant_id,
                        "customer_id": plan.customer_id,
                        "owner_id": plan.owner_id,
                        "customer_name": plan.customer_name,
                        "deal_at": plan.deal_at,
                        "settings": _care_settings_doc(plan.settings),
                        "created_at": plan.created_at,
                        **staged.fields,
                    }
                )
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def get_plan(self, plan_id: str) -> CarePlan | None:
        doc = await self.collection.find_one({"_id": plan_id})
        if doc is None:
            return None
        return CarePlan(
            id=doc["_id"],
            tenant_id=doc["tenant_id"],
            customer_id=doc["customer_id"],
            owner_id=doc["owner_id"],
            customer_name=doc.get("customer_name") or "",
            deal_at=doc["deal_at"],
            settings=_care_settings_from(doc.get("settings")),
            created_at=doc["created_at"],
            withdrawn_at=doc.get("withdrawn_at"),
            withdrawn_reason=doc.get("withdrawn_reason"),
        )

    async def withdraw(
        self, customer_id: str, lost_at: datetime, reason: str, now: datetime
    ) -> tuple[list[str], int]:
        # The plans of deals made until the loss (a later deal's plan is a new relationship).
        cursor = self.collection.find(
            {"customer_id": customer_id, "deal_at": {"$lte": lost_at}}, {"_id": 1}
        )
        plan_ids = [d["_id"] async for d in cursor]
        if not plan_ids:
            return [], 0
        # Marked first: a visit finished meanwhile makes no next round (`extend_care_plan`
        # checks the mark again after making one, and cancels it).
        await self.collection.update_many(
            {"_id": {"$in": plan_ids}, "withdrawn_at": None},
            {"$set": {"withdrawn_at": now, "withdrawn_reason": reason}},
        )
        # Visits are cancelled on every call (not only the first): a crash between the two
        # writes is finished by the redelivery.
        return plan_ids, await self.cancel_visits(plan_ids, reason, now)

    async def cancel_visits(self, plan_ids: Sequence[str], reason: str, now: datetime) -> int:
        cancelled = await self.tenant_collection(FOLLOWUPS).update_many(
            {
                "origin": FollowUpOrigin.CARE_PLAN.value,
                "origin_event_id": {"$in": list(plan_ids)},
                "status": {"$in": _ACTIVE_VALUES},
            },
            {
                "$set": {
                    "status": FollowUpStatus.CANCELLED.value,
                    "completed_at": now,
                    "outcome": reason,
                }
            },
        )
        return cancelled.modified_count

    async def hand_over(self, customer_id: str, from_owner: str, to_owner: str) -> int:
        # Plans first: a visit finished in between extends its round for the new owner.
        await self.collection.update_many(
            {"customer_id": customer_id, "owner_id": from_owner},
            {"$set": {"owner_id": to_owner}},
        )
        moved = await self.tenant_collection(FOLLOWUPS).update_many(
            {
                "customer_id": customer_id,
                "origin": FollowUpOrigin.CARE_PLAN.value,
                "status": {"$in": [s.value for s in ACTIVE]},
                "assignee_id": from_owner,
            },
            {"$set": {"assignee_id": to_owner}},
        )
        return moved.modified_count

    async def segment(self, segment: Segment, limit: int) -> Sequence[SegmentMember]:
        query: Document = {"deleted": {"$ne": True}, "merged_into": None}
        for field, values in (
            ("customer_type", segment.customer_types),
            ("status", segment.statuses),
            ("team", segment.teams),
            ("owner_id", segment.owner_ids),
            ("region_province", segment.regions),
            ("industry", segment.industries),
            ("tags", segment.tags),  # any of them (an array field matches an element)
        ):
            if values:
                query[field] = values[0] if len(values) == 1 else {"$in": list(values)}
        cursor = self._customers.find(
            query, {"owner_id": 1, "name": 1}, sort=[("_id", ASCENDING)], limit=limit + 1
        )
        return [
            SegmentMember(
                customer_id=d["_id"], owner_id=d.get("owner_id") or "", name=d.get("name") or ""
            )
            async for d in cursor
        ]
