"""Mongo side of improvement tasks, their overdue claims, task routing and the profile summary.

Same FerretDB 1.24 rules as `adapters.mongo`: the exactly-once claims are inserts of a document
whose ``_id`` names the claim (an automatic task's id derives from its source; an overdue
announcement's from the task and its due time), with the event staged in the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.coordination import PROCESS_ID
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import EXCLUDE_OUTBOX, staged_events
from crm_common.mongo import CrossTenant, Document, tenant_collection
from crm_common.pagination import Page, PageRequest, SortKey
from crm_service_desk.adapters.mongo import (
    DEPARTMENTS,
    IMPROVEMENT_TASKS,
    SERVICE_ORDERS,
    SURVEY_RESPONSES,
    TASK_OVERDUE_CLAIMS,
    TICKETS,
    Scoped,
    and_,
)
from crm_service_desk.domain.improvement import (
    OPEN_STATUSES,
    ImprovementTask,
    TaskHistoryEntry,
    TaskSource,
    TaskStatus,
    source_key,
)
from crm_service_desk.domain.permissions import Visibility
from crm_service_desk.domain.service_order import OrderStatus
from crm_service_desk.domain.ticket import DONE_STATUSES, TicketCategory
from crm_service_desk.service.ports import ServiceSummary, TaskFilter

OUTBOX_COLLECTIONS = [IMPROVEMENT_TASKS, TASK_OVERDUE_CLAIMS]
_OPEN = [s.value for s in OPEN_STATUSES]

INDEXES = {
    IMPROVEMENT_TASKS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)],
            name="soonest_due",
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("due_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="by_customer_soonest",
        ),
        # The overdue monitor: open, not announced, due by now (closed tasks never read again).
        IndexModel(
            [("is_open", ASCENDING), ("overdue_at", ASCENDING), ("due_at", ASCENDING)],
            name="overdue_open",
        ),
    ],
    TASK_OVERDUE_CLAIMS: [
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="by_customer")
    ],
}
_SOONEST = [SortKey("due_at"), SortKey("_id")]


def task_document(task: ImprovementTask) -> Document:
    return {
        "_id": task.id,
        "tenant_id": task.tenant_id,
        "title": task.title,
        "description": task.description,
        "source": task.source.value,
        "source_id": task.source_id,
        "source_key": source_key(task.source, task.source_id),
        "customer_id": task.customer_id,
        "team": task.team,
        "owner_id": task.owner_id,
        "status": task.status.value,
        "is_open": task.is_open,
        "due_at": task.due_at,
        "opened_by": task.opened_by,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "closed_at": task.closed_at,
        "closed_late": task.closed_at is not None and task.closed_at > task.due_at,
        "closure_note": task.closure_note,
        "overdue_at": task.overdue_at,
        "history": [
            {"action": h.action, "actor_id": h.actor_id, "at": h.at, "note": h.note}
            for h in task.history
        ],
        "version": task.version,
    }


def task_from_document(doc: Document) -> ImprovementTask:
    return ImprovementTask(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        title=doc["title"],
        description=doc.get("description") or "",
        source=TaskSource(doc["source"]),
        source_id=doc.get("source_id"),
        customer_id=doc.get("customer_id"),
        team=doc.get("team"),
        owner_id=doc.get("owner_id"),
        status=TaskStatus(doc["status"]),
        due_at=doc["due_at"],
        opened_by=doc["opened_by"],
        created_at=doc["created_at"],
        updated_at=doc.get("updated_at") or doc["created_at"],
        closed_at=doc.get("closed_at"),
        closure_note=doc.get("closure_note"),
        overdue_at=doc.get("overdue_at"),
        history=tuple(
            TaskHistoryEntry(h["action"], h["actor_id"], h["at"], h.get("note"))
            for h in doc.get("history") or []
        ),
        version=int(doc.get("version") or 0),
    )


class MongoImprovementTaskRepository(Scoped):
    collection_name = IMPROVEMENT_TASKS

    async def _visible(self, view: Visibility) -> Document:
        return await self.visible(view, team_path="team", owner_path="owner_id")

    async def add(self, task: ImprovementTask, events: Sequence[CloudEvent]) -> bool:
        async with staged_events(self._db, IMPROVEMENT_TASKS, task.id, events) as staged:
            try:
                await self.collection.insert_one({**task_document(task), **staged.fields})
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def get(self, task_id: str, view: Visibility) -> ImprovementTask | None:
        query = and_({"_id": task_id}, await self._visible(view))
        doc = await self.collection.find_one(self.scoped(query), EXCLUDE_OUTBOX)
        return task_from_document(doc) if doc else None

    async def listing(
        self, filter: TaskFilter, view: Visibility, page: PageRequest, now: datetime
    ) -> Page[ImprovementTask]:
        clauses: list[Document] = []
        if filter.status:
            clauses.append({"status": {"$in": [s.value for s in filter.status]}})
        for path, value in (
            ("team", filter.team),
            ("owner_id", filter.owner_id),
            ("customer_id", filter.customer_id),
            ("source", filter.source.value if filter.source else None),
        ):
            if value is not None:
                clauses.append({path: value})
        if filter.overdue is True:
            clauses.append(
                {"$or": [{"is_open": True, "due_at": {"$lte": now}}, {"closed_late": True}]}
            )
        elif filter.overdue is False:
            clauses.append(
                {"$or": [{"is_open": True, "due_at": {"$gt": now}}, {"closed_late": False}]}
            )
        query = and_(*clauses, await self._visible(view))
        return (await self.paginate(query, _SOONEST, page)).map(task_from_document)

    async def save(
        self, task: ImprovementTask, expected_version: int, events: Sequence[CloudEvent]
    ) -> bool:
        fields = task_document(task)
        del fields["_id"], fields["tenant_id"]
        async with staged_events(self._db, IMPROVEMENT_TASKS, task.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": task.id, "version": expected_version}),
                staged.merged({"$set": fields}),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1


class MongoOverdueTaskStore:
    """Open tasks of every tenant past their due time (the overdue monitor's view)."""

    def __init__(self, db: AsyncDatabase[Document], writer: str = PROCESS_ID) -> None:
        # Cross-tenant on purpose: the monitor serves every tenant; each write names the task's.
        self._db = db
        # Whose staged outbox entries these are: the process (tests give two "replicas" in
        # one process names of their own, as two processes have).
        self._writer = writer
        self._tasks = CrossTenant(db)[IMPROVEMENT_TASKS]
        self._claims = CrossTenant(db)[TASK_OVERDUE_CLAIMS]

    def _query(self, until: datetime) -> Document:
        return {"is_open": True, "overdue_at": None, "due_at": {"$lte": until}}

    async def due(self, now: datetime, limit: int) -> list[ImprovementTask]:
        cursor = self._tasks.find(self._query(now), EXCLUDE_OUTBOX, limit=limit)
        return [task_from_document(doc) async for doc in cursor]

    async def next_due(self, horizon: datetime) -> datetime | None:
        doc = await self._tasks.find_one(self._query(horizon), {"due_at": 1})
        return doc["due_at"] if doc else None

    async def claim_overdue(self, task: ImprovementTask, events: Sequence[CloudEvent]) -> bool:
        claim_id = f"{task.tenant_id}:{task.id}:{task.due_at.isoformat()}"
        won = True
        async with staged_events(
            self._db, TASK_OVERDUE_CLAIMS, claim_id, events, self._writer
        ) as staged:
            try:
                await self._claims.insert_one(
                    {
                        "_id": claim_id,
                        "tenant_id": task.tenant_id,
                        "task_id": task.id,
                        "customer_id": task.customer_id,
                        "due_at": task.due_at,
                        "detected_at": task.overdue_at,
                        **staged.fields,
                    }
                )
            except DuplicateKeyError:
                staged.abandon()
                won = False
        # Winner or not, flag the task (the winner may have died before doing it).
        entry = task.history[-1]
        await self._tasks.update_one(
            {
                "_id": task.id,
                "tenant_id": task.tenant_id,
                "overdue_at": None,
                "due_at": task.due_at,
            },
            {
                "$set": {"overdue_at": task.overdue_at},
                "$push": {
                    "history": {
                        "action": entry.action,
                        "actor_id": entry.actor_id,
                        "at": entry.at,
                        "note": entry.note,
                    }
                },
            },
        )
        return won


class MongoTaskRouting:
    """Who handles an automatic task, from the desk's own records (one tenant)."""

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._tickets = tenant_collection(db, TICKETS, tenant_id)
        self._orders = tenant_collection(db, SERVICE_ORDERS, tenant_id)
        self._departments = tenant_collection(db, DEPARTMENTS, tenant_id)

    async def _lead(self, department: str | None) -> str | None:
        if not department:
            return None
        doc = await self._departments.find_one({"name": department}, {"lead_id": 1})
        return (doc or {}).get("lead_id")

    async def for_subject(
        self, subject_type: str, subject_id: str
    ) -> tuple[str | None, str | None]:
        if subject_type == "SERVICE_ORDER":
            order = await self._orders.find_one({"_id": subject_id}, {"team": 1, "owner_id": 1})
            return (order or {}).get("team"), (order or {}).get("owner_id")
        ticket = await self._tickets.find_one(
            {"_id": subject_id}, {"department": 1, "assignee_id": 1, "opened_by": 1}
        )
        if ticket is None:
            return None, None
        department = ticket.get("department")
        owner = await self._lead(department) or ticket.get("assignee_id") or ticket.get("opened_by")
        return department, owner

    async def for_department(
        self, department: str | None, fallback_owner: str
    ) -> tuple[str | None, str | None]:
        return department, await self._lead(department) or fallback_owner


class MongoServiceSummary(Scoped):
    """Counts over one customer's tickets, orders, answers and tasks (visibility applied)."""

    collection_name = TICKETS

    async def summary(
        self, customer_id: str, view: Visibility, surveys: Visibility
    ) -> ServiceSummary:
        of_customer = {"customer_id": customer_id}
        tickets = self.collection
        ticket_scope = self.scoped(
            and_(
                of_customer,
                await self.visible(view, team_path="department", escalation_path="escalated_to"),
            )
        )
        orders = self.tenant_collection(SERVICE_ORDERS)
        order_scope = self.scoped(and_(of_customer, await self.visible(view, team_path="team")))
        answers = self.tenant_collection(SURVEY_RESPONSES)
        answer_scope = self.scoped(and_(of_customer, await self.visible(surveys)))
        tasks = self.tenant_collection(IMPROVEMENT_TASKS)
        task_scope = self.scoped(
            and_(of_customer, await self.visible(view, team_path="team", owner_path="owner_id"))
        )
        done = [s.value for s in DONE_STATUSES]
        last_answer = await answers.find_one(
            answer_scope,
            {"scores": 1, "responded_at": 1, "channel": 1},
            sort=[("responded_at", DESCENDING)],
        )
        last_ticket = await tickets.find_one(
            ticket_scope, {"created_at": 1}, sort=[("created_at", DESCENDING)]
        )
        last_order = await orders.find_one(
            order_scope, {"created_at": 1}, sort=[("created_at", DESCENDING)]
        )
        moments: list[datetime] = [
            d[k]
            for d, k in (
                (last_ticket, "created_at"),
                (last_order, "created_at"),
                (last_answer, "responded_at"),
            )
            if d and d.get(k)
        ]
        scores = list(((last_answer or {}).get("scores") or {}).values())
        return ServiceSummary(
            tickets=await tickets.count_documents(ticket_scope),
            open_tickets=await tickets.count_documents({**ticket_scope, "status": {"$nin": done}}),
            complaints=await tickets.count_documents(
                {**ticket_scope, "category": TicketCategory.COMPLAINT.value}
            ),
            service_orders=await orders.count_documents(order_scope),
            open_service_orders=await orders.count_documents(
                {**order_scope, "status": {"$ne": OrderStatus.DELIVERED.value}}
            ),
            surveys_answered=await answers.count_documents(answer_scope),
            last_survey_average=round(sum(scores) / len(scores), 2) if scores else None,
            last_survey_at=(last_answer or {}).get("responded_at"),
            last_survey_channel=(
                ((last_answer or {}).get("channel") or "LINK") if last_answer else None
            ),
            open_improvement_tasks=await tasks.count_documents(
                {**task_scope, "status": {"$in": _OPEN}}
            ),
            last_service_at=max(moments) if moments else None,
        )
