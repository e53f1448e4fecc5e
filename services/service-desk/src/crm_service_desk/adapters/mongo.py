"""Mongo repositories of the service desk: every query of the service lives here.

Keeps to the FerretDB 1.24 subset: no partial indexes (idempotency keys are always set, so
unique indexes never see two nulls), arrays matched by equality (``{"keywords": "word"}``),
CSAT with ``$unwind`` + ``$group``/``$sum`` only.

Claims that must win exactly once (an SLA breach reported by one of several replicas, a survey
token used once) are INSERTS of a document whose ``_id`` names the claim, its event staged in
the outbox (crm_common.events.outbox). FerretDB 1.24 does not make a conditional
``update_one`` an atomic compare-and-set (two replicas both matched ``{"breached_at": None}``
in our two-replica test), but a duplicate ``_id`` is always refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.customers.copies import COPY_INDEXES, CUSTOMER_COPIES, CustomerCopy
from crm_common.customers.repoint import CustomerRecords, RepointTarget
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import EXCLUDE_OUTBOX, staged_events
from crm_common.graphql.filters import to_mongo_filter
from crm_common.limits import check_limit, list_limits
from crm_common.mongo import CrossTenant, Document, TenantRepository, tenant_collection
from crm_common.pagination import Page, PageRequest, SortKey
from crm_service_desk.domain.article import Article, ArticleKind
from crm_service_desk.domain.permissions import CustomerRef, Visibility
from crm_service_desk.domain.service_order import (
    Deliverable,
    DeliverableKind,
    OrderSource,
    OrderStatus,
    ServiceOrder,
    Stage,
    StageState,
)
from crm_service_desk.domain.survey import (
    SATISFIED_FROM,
    Dimension,
    DimensionCsat,
    Survey,
    SurveyChannel,
    SurveyStatus,
    SurveySubject,
    SurveyTemplate,
)
from crm_service_desk.domain.ticket import (
    DEFAULT_SLA,
    DONE_STATUSES,
    SlaKind,
    SlaTarget,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketPriority,
    TicketStatus,
)

log = logging.getLogger(__name__)

CUSTOMER_REFS = CUSTOMER_COPIES  # the shared customer copy (`crm_common.customers.copies`)
SLA_TARGETS = "sla_targets"
DEPARTMENTS = "departments"
TICKETS = "tickets"
SERVICE_ORDERS = "service_orders"
SURVEYS = "surveys"
SURVEY_RESPONSES = "survey_responses"
SLA_BREACHES = "sla_breaches"
SURVEY_TEMPLATES = "survey_templates"
ARTICLES = "articles"
IMPROVEMENT_TASKS = "improvement_tasks"  # adapters/improvement.py
TASK_OVERDUE_CLAIMS = "improvement_task_overdue"
OUTBOX_COLLECTIONS = [TICKETS, SERVICE_ORDERS, SURVEYS, SURVEY_RESPONSES, SLA_BREACHES, ARTICLES]
# What a customer merge re-points (`crm_common.customers.repoint`).
REPOINTED = [
    RepointTarget(c)
    for c in (
        TICKETS,
        SERVICE_ORDERS,
        SURVEYS,
        SURVEY_RESPONSES,
        SLA_BREACHES,
        IMPROVEMENT_TASKS,
        TASK_OVERDUE_CLAIMS,
    )
]

INDEXES = {
    CUSTOMER_REFS: COPY_INDEXES,
    TICKETS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
            name="newest",
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="by_customer_newest",
        ),
        # The SLA monitor's two $or branches: open, not yet breached, due by now. Led by the
        # null equalities so that resolved and breached tickets are never read again.
        *(
            IndexModel(
                [
                    (done, ASCENDING),
                    (f"{kind}_breached_at", ASCENDING),
                    (f"{kind}_due_at", ASCENDING),
                ],
                name=f"{kind}_due_open",
            )
            for kind, done in (("resolution", "resolved_at"), ("response", "responded_at"))
        ),
    ],
    SERVICE_ORDERS: [
        # Idempotency of orders opened from quotes: one order per `quote:<id>` per tenant.
        IndexModel(
            [("tenant_id", ASCENDING), ("source_key", ASCENDING)], unique=True, name="source_key"
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
            name="newest",
        ),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="by_customer_newest",
        ),
    ],
    SURVEYS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("subject_type", ASCENDING), ("subject_id", ASCENDING)],
            unique=True,
            name="one_per_subject",
        ),
        IndexModel([("token_hash", ASCENDING)], unique=True, name="token_hash"),
        *(
            IndexModel(
                [("tenant_id", ASCENDING), *by, ("sent_at", DESCENDING), ("_id", DESCENDING)],
                name=name,
            )
            for by, name in (
                ([], "newest"),
                ([("customer_id", ASCENDING)], "by_customer_newest"),
            )
        ),
    ],
    # One document per answered survey and per reported breach, keyed by what it answers or
    # reports: the insert is the single-use / exactly-once claim (see the module docstring).
    SURVEY_RESPONSES: [
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="by_customer"),
        # Customer.serviceSummary: the customer's latest answer.
        IndexModel(
            [("tenant_id", ASCENDING), ("customer_id", ASCENDING), ("responded_at", DESCENDING)],
            name="by_customer_latest",
        ),
    ],
    SLA_BREACHES: [
        IndexModel([("tenant_id", ASCENDING), ("ticket_id", ASCENDING)], name="by_ticket"),
        # A customer merge re-points the absorbed customer's breaches.
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="by_customer"),
    ],
    # Small per tenant (a few targets, a few departments), read on every ticket or listing.
    SLA_TARGETS: [IndexModel([("tenant_id", ASCENDING)], name="by_tenant")],
    DEPARTMENTS: [
        IndexModel([("tenant_id", ASCENDING), ("name", ASCENDING)], name="by_tenant_name")
    ],
    SURVEY_TEMPLATES: [
        IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING)], name="newest")
    ],
    ARTICLES: [
        *(
            IndexModel(
                [("tenant_id", ASCENDING), *by, ("published_at", DESCENDING), ("_id", DESCENDING)],
                name=name,
            )
            for by, name in (([], "newest_id"), ([("keywords", ASCENDING)], "keywords_newest"))
        ),
    ],
}

_NEWEST = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]
_NOTHING: Document = {"_id": {"$in": []}}
_CLAIM_REPAIR_AFTER = timedelta(seconds=30)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _parse_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class Scoped(TenantRepository):
    """A repository whose reads honour a `Visibility`."""

    async def _customer_ids(
        self, *, owner_id: str | None = None, team: str | None = None
    ) -> list[str]:
        return await CustomerCopy(self._db, self.tenant_id).visible_ids(owner_id, team)

    async def visible(
        self,
        view: Visibility,
        *,
        team_path: str | None = None,
        escalation_path: str | None = None,
        owner_path: str | None = None,
    ) -> Document:
        """The query matching what ``view`` may read ({} for everything)."""
        if view.everything:
            return {}
        branches: list[Document] = []
        if view.customer_owner:
            ids = await self._customer_ids(owner_id=view.customer_owner)
            branches.append({"customer_id": {"$in": ids}})
        if view.customer_team:
            ids = await self._customer_ids(team=view.customer_team)
            branches.append({"customer_id": {"$in": ids}})
        if view.team and team_path:
            branches.append({team_path: view.team})
        if view.escalated_to and escalation_path:
            branches.append({escalation_path: view.escalated_to})
        if view.task_owner and owner_path:
            branches.append({owner_path: view.task_owner})
        if not branches:
            return _NOTHING
        return branches[0] if len(branches) == 1 else {"$or": branches}


def and_(*clauses: Document) -> Document:
    """Every non-empty clause must hold."""
    parts = [c for c in clauses if c]
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


# ---------------------------------------------------------------- customers and settings


class MongoCustomerRefs:
    """The service desk's view of the shared customer copy (`crm_common.customers.copies`, kept
    from the customer events: current owner and team)."""

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._copy = CustomerCopy(db, tenant_id)
        self.tenant_id = tenant_id

    async def get(self, customer_id: str) -> CustomerRef | None:
        customer = await self._copy.get(customer_id)
        if customer is None:
            return None
        return CustomerRef(
            id=customer.id,
            tenant_id=customer.tenant_id,
            name=customer.name,
            owner_id=customer.owner_id,
            team=customer.team,
        )


def customer_records(db: AsyncDatabase[Document], tenant_id: str) -> CustomerRecords:
    """The tenant's records that name a customer (`REPOINTED`), re-pointed after a merge."""
    return CustomerRecords(db, tenant_id, REPOINTED)


class MongoDeskSettingsRepository:
    """The tenant's SLA rows and departments, one small document each."""

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._sla = tenant_collection(db, SLA_TARGETS, tenant_id)
        self._departments = tenant_collection(db, DEPARTMENTS, tenant_id)

    async def sla_table(self) -> dict[TicketPriority, SlaTarget]:
        table = dict(DEFAULT_SLA)
        async for doc in self._sla.find({}):
            priority = TicketPriority(doc["priority"])
            table[priority] = SlaTarget(
                priority, doc["response_seconds"], doc["resolution_seconds"]
            )
        return table

    async def set_sla(self, targets: Sequence[SlaTarget]) -> None:
        for target in targets:
            await self._sla.update_one(
                {"_id": f"{self.tenant_id}:{target.priority.value}"},
                {
                    "$set": {
                        "priority": target.priority.value,
                        "response_seconds": target.response_seconds,
                        "resolution_seconds": target.resolution_seconds,
                    }
                },
                upsert=True,
            )

    async def departments(self) -> dict[str, str | None]:
        cursor = self._departments.find({}, sort=[("name", 1)])
        return {doc["name"]: doc.get("lead_id") async for doc in cursor}

    async def set_department(self, name: str, lead_id: str | None) -> None:
        await self._departments.update_one(
            {"_id": f"{self.tenant_id}:{name}"},
            {"$set": {"name": name, "lead_id": lead_id}},
            upsert=True,
        )


# ---------------------------------------------------------------- tickets

TICKET_FILTER_PATHS = {
    "id": "_id",
    "customer_id": "customer_id",
    "status": "status",
    "priority": "priority",
    "category": "category",
    "department": "department",
    "assignee_id": "assignee_id",
    "escalated_to": "escalated_to",
    "created_at": "created_at",
    "resolution_due_at": "resolution_due_at",
    "title": "title",
}


def _history_doc(entry: TicketEvent) -> Document:
    return {
        "action": entry.action,
        "actor_id": entry.actor_id,
        "at": entry.at,
        "from_status": entry.from_status.value if entry.from_status else None,
        "to_status": entry.to_status.value if entry.to_status else None,
        "note": entry.note,
    }


def ticket_document(ticket: Ticket) -> Document:
    return {
        "_id": ticket.id,
        "tenant_id": ticket.tenant_id,
        "customer_id": ticket.customer_id,
        "title": ticket.title,
        "description": ticket.description,
        "category": ticket.category.value,
        "priority": ticket.priority.value,
        "status": ticket.status.value,
        "opened_by": ticket.opened_by,
        "created_at": ticket.created_at,
        "response_due_at": ticket.response_due_at,
        "resolution_due_at": ticket.resolution_due_at,
        "department": ticket.department,
        "assignee_id": ticket.assignee_id,
        "responded_at": ticket.responded_at,
        "resolved_at": ticket.resolved_at,
        "resolution": ticket.resolution,
        "response_breached_at": ticket.response_breached_at,
        "resolution_breached_at": ticket.resolution_breached_at,
        "escalated_to": ticket.escalated_to,
        "escalated_at": ticket.escalated_at,
        "history": [_history_doc(h) for h in ticket.history],
        "version": ticket.version,
    }


def ticket_from_document(doc: Document) -> Ticket:
    return Ticket(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        title=doc["title"],
        description=doc.get("description") or "",
        category=TicketCategory(doc.get("category") or TicketCategory.OTHER.value),
        priority=TicketPriority(doc["priority"]),
        status=TicketStatus(doc["status"]),
        opened_by=doc["opened_by"],
        created_at=doc["created_at"],
        response_due_at=doc["response_due_at"],
        resolution_due_at=doc["resolution_due_at"],
        department=doc.get("department"),
        assignee_id=doc.get("assignee_id"),
        responded_at=doc.get("responded_at"),
        resolved_at=doc.get("resolved_at"),
        resolution=doc.get("resolution"),
        response_breached_at=doc.get("response_breached_at"),
        resolution_breached_at=doc.get("resolution_breached_at"),
        escalated_to=doc.get("escalated_to"),
        escalated_at=doc.get("escalated_at"),
        history=tuple(
            TicketEvent(
                action=h["action"],
                actor_id=h["actor_id"],
                at=h["at"],
                from_status=TicketStatus(h["from_status"]) if h.get("from_status") else None,
                to_status=TicketStatus(h["to_status"]) if h.get("to_status") else None,
                note=h.get("note"),
            )
            for h in doc.get("history") or []
        ),
        version=int(doc.get("version") or 0),
    )


class MongoTicketRepository(Scoped):
    collection_name = TICKETS

    async def _visible(self, view: Visibility) -> Document:
        return await self.visible(view, team_path="department", escalation_path="escalated_to")

    async def add(self, ticket: Ticket, events: Sequence[CloudEvent]) -> None:
        async with staged_events(self._db, TICKETS, ticket.id, events) as staged:
            await self.collection.insert_one({**ticket_document(ticket), **staged.fields})

    async def get(self, ticket_id: str, view: Visibility) -> Ticket | None:
        query = and_({"_id": ticket_id}, await self._visible(view))
        doc = await self.collection.find_one(self.scoped(query))
        return ticket_from_document(doc) if doc else None

    async def listing(
        self,
        filter_input: Any,
        view: Visibility,
        page: PageRequest,
        customer_id: str | None = None,
    ) -> Page[Ticket]:
        query = and_(
            to_mongo_filter(filter_input, TICKET_FILTER_PATHS),
            {"customer_id": customer_id} if customer_id is not None else {},
            await self._visible(view),
        )
        return (await self.paginate(query, _NEWEST, page)).map(ticket_from_document)

    async def save(
        self, ticket: Ticket, expected_version: int, events: Sequence[CloudEvent]
    ) -> bool:
        fields = ticket_document(ticket)
        del fields["_id"], fields["tenant_id"]
        async with staged_events(self._db, TICKETS, ticket.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": ticket.id, "version": expected_version}),
                staged.merged({"$set": fields}),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1


class MongoSlaBreachStore:
    """The SLA monitor's view: due tickets of every tenant, and the atomic breach claim."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the SLA monitor scans every tenant's open tickets; each
        # claim and mark names the ticket's own tenant.
        self._db = db
        self._tickets = CrossTenant(db)[TICKETS]
        self._breaches = CrossTenant(db)[SLA_BREACHES]

    async def due(self, now: datetime, limit: int) -> list[Ticket]:
        query = {
            "status": {"$nin": [s.value for s in DONE_STATUSES]},
            "$or": [
                {
                    "responded_at": None,
                    "response_breached_at": None,
                    "response_due_at": {"$lte": now},
                },
                {
                    "resolved_at": None,
                    "resolution_breached_at": None,
                    "resolution_due_at": {"$lte": now},
                },
            ],
        }
        cursor = self._tickets.find(
            query, EXCLUDE_OUTBOX, limit=limit, sort=[("resolution_due_at", ASCENDING)]
        )
        return [ticket_from_document(doc) async for doc in cursor]

    async def claim_breach(
        self,
        ticket: Ticket,
        kind: SlaKind,
        now: datetime,
        escalate_to: str | None,
        events: Sequence[CloudEvent],
    ) -> bool:
        claim_id = f"{ticket.tenant_id}:{ticket.id}:{kind.value}"
        async with staged_events(self._db, SLA_BREACHES, claim_id, events) as staged:
            try:
                # The breach record with its event: only one replica's insert succeeds.
                await self._breaches.insert_one(
                    {
                        "_id": claim_id,
                        "tenant_id": ticket.tenant_id,
                        "ticket_id": ticket.id,
                        "customer_id": ticket.customer_id,
                        "kind": kind.value,
                        "detected_at": now,
                        "escalated_to": escalate_to,
                        **staged.fields,
                    }
                )
            except DuplicateKeyError:
                staged.abandon()
                lost = True
            else:
                lost = False
        if lost:
            await self._repair(ticket, kind, claim_id, now)
            return False
        await self._mark(ticket, kind, now, escalate_to)
        return True

    async def _mark(
        self, ticket: Ticket, kind: SlaKind, detected_at: datetime, escalate_to: str | None
    ) -> None:
        """Show the breach and the escalation on the ticket (no event: the record has it)."""
        flag = "response_breached_at" if kind is SlaKind.RESPONSE else "resolution_breached_at"
        entry = _history_doc(
            TicketEvent(f"SLA_{kind.value}_BREACHED", "system", detected_at, note=escalate_to)
        )
        await self._tickets.update_one(
            {"_id": ticket.id, "tenant_id": ticket.tenant_id, flag: None},
            {
                "$set": {
                    flag: detected_at,
                    "escalated_to": escalate_to,
                    "escalated_at": detected_at,
                },
                "$push": {"history": entry},
                "$inc": {"version": 1},
            },
        )

    async def _repair(self, ticket: Ticket, kind: SlaKind, claim_id: str, now: datetime) -> None:
        """The winner died between its two writes: finish marking the ticket for it."""
        claim = await self._breaches.find_one({"_id": claim_id}, EXCLUDE_OUTBOX)
        if claim is None or claim["detected_at"] > now - _CLAIM_REPAIR_AFTER:
            return  # the winner is (probably) still at it
        await self._mark(ticket, kind, claim["detected_at"], claim.get("escalated_to"))

    async def department_lead(self, tenant_id: str, department: str | None) -> str | None:
        if department is None:
            return None
        departments = tenant_collection(self._db, DEPARTMENTS, tenant_id)
        doc = await departments.find_one({"_id": f"{tenant_id}:{department}"})
        lead = doc.get("lead_id") if doc else None
        return str(lead) if lead else None


# ---------------------------------------------------------------- service orders


def _stage_doc(state: StageState) -> Document:
    return {
        "stage": state.stage.value,
        "progress": state.progress,
        "started_at": state.started_at,
        "completed_at": state.completed_at,
        "deliverables": [
            {
                "name": d.name,
                "kind": d.kind.value,
                "reference": d.reference,
                "added_by": d.added_by,
                "added_at": d.added_at,
            }
            for d in state.deliverables
        ],
    }


def order_document(order: ServiceOrder) -> Document:
    return {
        "_id": order.id,
        "tenant_id": order.tenant_id,
        "customer_id": order.customer_id,
        "title": order.title,
        "content": order.content,
        "source": order.source.value,
        "owner_id": order.owner_id,
        "status": order.status.value,
        "created_at": order.created_at,
        "stages": [_stage_doc(s) for s in order.stages],
        "quote_id": order.quote_id,
        "quote_number": order.quote_number,
        "amount_minor": order.amount_minor,
        "currency": order.currency,
        "team": order.team,
        "delivery_start": _day(order.delivery_start),
        "delivery_end": _day(order.delivery_end),
        "current_stage": order.current_stage.value if order.current_stage else None,
        "delivered_at": order.delivered_at,
        "updated_at": order.updated_at,
        "version": order.version,
    }


def order_from_document(doc: Document) -> ServiceOrder:
    return ServiceOrder(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        title=doc["title"],
        content=doc.get("content") or "",
        source=OrderSource(doc["source"]),
        owner_id=doc["owner_id"],
        status=OrderStatus(doc["status"]),
        created_at=doc["created_at"],
        stages=tuple(
            StageState(
                stage=Stage(s["stage"]),
                progress=int(s.get("progress") or 0),
                started_at=s.get("started_at"),
                completed_at=s.get("completed_at"),
                deliverables=tuple(
                    Deliverable(
                        name=d["name"],
                        kind=DeliverableKind(d["kind"]),
                        reference=d["reference"],
                        added_by=d["added_by"],
                        added_at=d["added_at"],
                    )
                    for d in s.get("deliverables") or []
                ),
            )
            for s in doc["stages"]
        ),
        quote_id=doc.get("quote_id"),
        quote_number=doc.get("quote_number"),
        amount_minor=doc.get("amount_minor"),
        currency=doc.get("currency"),
        team=doc.get("team"),
        delivery_start=_parse_day(doc.get("delivery_start")),
        delivery_end=_parse_day(doc.get("delivery_end")),
        current_stage=Stage(doc["current_stage"]) if doc.get("current_stage") else None,
        delivered_at=doc.get("delivered_at"),
        updated_at=doc.get("updated_at"),
        version=int(doc.get("version") or 0),
    )


class MongoOrderRepository(Scoped):
    collection_name = SERVICE_ORDERS

    async def add(self, order: ServiceOrder, source_key: str, events: Sequence[CloudEvent]) -> bool:
        async with staged_events(self._db, SERVICE_ORDERS, order.id, events) as staged:
            try:
                await self.collection.insert_one(
                    {**order_document(order), "source_key": source_key, **staged.fields}
                )
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def get(self, order_id: str, view: Visibility) -> ServiceOrder | None:
        query = and_({"_id": order_id}, await self.visible(view, team_path="team"))
        doc = await self.collection.find_one(self.scoped(query))
        return order_from_document(doc) if doc else None

    async def listing(
        self, customer_id: str | None, view: Visibility, page: PageRequest
    ) -> Page[ServiceOrder]:
        query = and_(
            {"customer_id": customer_id} if customer_id is not None else {},
            await self.visible(view, team_path="team"),
        )
        return (await self.paginate(query, _NEWEST, page)).map(order_from_document)

    async def save(
        self, order: ServiceOrder, expected_version: int, events: Sequence[CloudEvent]
    ) -> bool:
        fields = order_document(order)
        del fields["_id"], fields["tenant_id"]
        async with staged_events(self._db, SERVICE_ORDERS, order.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": order.id, "version": expected_version}),
                staged.merged({"$set": fields}),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1


# ---------------------------------------------------------------- surveys

_SURVEY_NEWEST = [SortKey("sent_at", descending=True), SortKey("_id", descending=True)]


def _dimensions_doc(dimensions: Sequence[Dimension]) -> list[Document]:
    return [{"key": d.key, "label": d.label} for d in dimensions]


def _dimensions(docs: list[Document]) -> tuple[Dimension, ...]:
    return tuple(Dimension(d["key"], d["label"]) for d in docs)


def survey_from_document(doc: Document) -> Survey:
    return Survey(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        subject_type=SurveySubject(doc["subject_type"]),
        subject_id=doc["subject_id"],
        template_id=doc["template_id"],
        dimensions=_dimensions(doc["dimensions"]),
        status=SurveyStatus(doc["status"]),
        sent_at=doc["sent_at"],
        scores=dict(doc["scores"]) if doc.get("scores") else None,
        comment=doc.get("comment"),
        responded_at=doc.get("responded_at"),
        channel=(
            SurveyChannel(doc.get("channel") or SurveyChannel.LINK.value)
            if doc.get("responded_at")
            else None
        ),
        recorded_by=doc.get("recorded_by"),
    )


def _template_from_document(doc: Document) -> SurveyTemplate:
    return SurveyTemplate(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        name=doc["name"],
        dimensions=_dimensions(doc["dimensions"]),
        subject=SurveySubject(doc["subject"]) if doc.get("subject") else None,
        created_at=doc.get("created_at"),
    )


class MongoSurveyRepository(Scoped):
    collection_name = SURVEYS

    async def add(self, survey: Survey, token_hash: str, events: Sequence[CloudEvent]) -> bool:
        doc = {
            "_id": survey.id,
            "tenant_id": survey.tenant_id,
            "customer_id": survey.customer_id,
            "subject_type": survey.subject_type.value,
            "subject_id": survey.subject_id,
            "template_id": survey.template_id,
            "dimensions": _dimensions_doc(survey.dimensions),
            "status": survey.status.value,
            "sent_at": survey.sent_at,
            "token_hash": token_hash,
            "scores": None,
            "comment": None,
            "responded_at": None,
        }
        async with staged_events(self._db, SURVEYS, survey.id, events) as staged:
            try:
                await self.collection.insert_one({**doc, **staged.fields})
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def get(self, survey_id: str, view: Visibility) -> Survey | None:
        query = and_({"_id": survey_id}, await self.visible(view))
        doc = await self.collection.find_one(
            self.scoped(query), {"token_hash": 0, **EXCLUDE_OUTBOX}
        )
        return survey_from_document(doc) if doc else None

    async def listing(
        self, customer_id: str | None, view: Visibility, page: PageRequest
    ) -> Page[Survey]:
        query = and_(
            {"customer_id": customer_id} if customer_id is not None else {},
            await self.visible(view),
        )
        return (await self.paginate(query, _SURVEY_NEWEST, page)).map(survey_from_document)

    async def rotate_token(self, survey_id: str, token_hash: str) -> bool:
        result = await self.collection.update_one(
            self.scoped({"_id": survey_id, "status": SurveyStatus.SENT.value}),
            {"$set": {"token_hash": token_hash}},
        )
        return result.modified_count == 1

    async def csat(
        self,
        view: Visibility,
        customer_id: str | None,
        subject: SurveySubject | None,
        channel: SurveyChannel | None = None,
    ) -> list[DimensionCsat]:
        by_channel: Document = {}
        if channel is SurveyChannel.PHONE:
            by_channel = {"channel": SurveyChannel.PHONE.value}
        elif channel is SurveyChannel.LINK:
            by_channel = {"channel": {"$ne": SurveyChannel.PHONE.value}}  # older: no channel
        match = self.scoped(
            and_(
                {"customer_id": customer_id} if customer_id is not None else {},
                {"subject_type": subject.value} if subject is not None else {},
                by_channel,
                await self.visible(view),
            )
        )
        # FerretDB 1.24 sums a dotted path (``$score_items.score``) as 0, but groups by one
        # fine: count answers per (dimension, score) and fold the at most 5 rows per dimension.
        pipeline: list[Document] = [
            {"$match": match},
            {"$unwind": "$score_items"},
            {
                "$group": {
                    "_id": {"dimension": "$score_items.dimension", "score": "$score_items.score"},
                    "answers": {"$sum": 1},
                }
            },
        ]
        totals: dict[str, list[int]] = {}  # dimension -> [responses, score sum, satisfied]
        async for row in await self.tenant_collection(SURVEY_RESPONSES).aggregate(pipeline):
            score, answers = int(row["_id"]["score"]), int(row["answers"])
            total = totals.setdefault(row["_id"]["dimension"], [0, 0, 0])
            total[0] += answers
            total[1] += score * answers
            total[2] += answers if score >= SATISFIED_FROM else 0
        return [
            DimensionCsat(dimension=d, responses=n, score_sum=sum_, satisfied=happy)
            for d, (n, sum_, happy) in sorted(totals.items())
        ]

    async def record_answer(
        self, survey: Survey, answer: Survey, events: Sequence[CloudEvent]
    ) -> bool:
        """Record ``answer`` (an agent's, by phone) iff the survey has none yet."""
        return await store_answer(
            self._db,
            self.tenant_collection(SURVEY_RESPONSES),
            self.collection,
            survey,
            answer,
            None,
            events,
        )

    async def templates(self) -> list[SurveyTemplate]:
        limit = list_limits().max_survey_templates
        cursor = self.tenant_collection(SURVEY_TEMPLATES).find(
            {}, sort=[("created_at", DESCENDING)], limit=limit + 1
        )
        found = [_template_from_document(doc) async for doc in cursor]
        check_limit(
            len(found),
            limit,
            "the tenant's survey templates",
            "CRM_MAX_SURVEY_TEMPLATES",
            "ask an administrator to raise it",
        )
        return found

    async def add_template(self, template: SurveyTemplate) -> None:
        await self.tenant_collection(SURVEY_TEMPLATES).insert_one(
            {
                "_id": template.id,
                "tenant_id": template.tenant_id,
                "name": template.name,
                "dimensions": _dimensions_doc(template.dimensions),
                "subject": template.subject.value if template.subject else None,
                "created_at": template.created_at,
            }
        )

    async def template_for(self, subject: SurveySubject) -> SurveyTemplate | None:
        doc = await self.tenant_collection(SURVEY_TEMPLATES).find_one(
            {"subject": {"$in": [subject.value, None]}},
            sort=[("created_at", DESCENDING)],
        )
        return _template_from_document(doc) if doc else None


async def store_answer(
    db: AsyncDatabase[Document],
    responses: Any,
    surveys: Any,
    survey: Survey,
    answer: Survey,
    token_hash: str | None,
    events: Sequence[CloudEvent],
) -> bool:
    """Single use: the answer's _id is the survey's, so only the first insert lands (whether it
    came through the link or from an agent on the phone); then the survey shows it."""
    scores = answer.scores or {}
    channel = answer.channel or SurveyChannel.LINK
    fields = {
        "status": SurveyStatus.RESPONDED.value,
        "scores": scores,
        "comment": answer.comment,
        "responded_at": answer.responded_at,
        "channel": channel.value,
        "recorded_by": answer.recorded_by,
    }
    async with staged_events(db, SURVEY_RESPONSES, survey.id, events) as staged:
        try:
            await responses.insert_one(
                {
                    "_id": survey.id,
                    "tenant_id": survey.tenant_id,
                    "customer_id": survey.customer_id,
                    "subject_type": survey.subject_type.value,
                    "subject_id": survey.subject_id,
                    "token_hash": token_hash,
                    "score_items": [{"dimension": k, "score": v} for k, v in scores.items()],
                    **fields,
                    **staged.fields,
                }
            )
        except DuplicateKeyError:
            staged.abandon()
            return False
    await surveys.update_one({"_id": survey.id, "tenant_id": survey.tenant_id}, {"$set": fields})
    return True


class MongoSurveyTokens:
    """Lookups by token hash for the public endpoint (the token names the tenant)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the public survey link carries no tenant; its unguessable
        # token (stored hashed) finds the survey, whose own tenant scopes every write.
        self._surveys = CrossTenant(db)[SURVEYS]
        self._responses = CrossTenant(db)[SURVEY_RESPONSES]
        self._db = db  # for the outbox (one queue for every tenant)

    async def respond(
        self,
        survey: Survey,
        token_hash: str,
        scores: dict[str, int],
        comment: str | None,
        now: datetime,
        events: Sequence[CloudEvent],
    ) -> bool:
        answer = replace(
            survey,
            status=SurveyStatus.RESPONDED,
            scores=scores,
            comment=comment,
            responded_at=now,
            channel=SurveyChannel.LINK,
        )
        return await store_answer(
            self._db, self._responses, self._surveys, survey, answer, token_hash, events
        )

    async def by_token(self, token_hash: str) -> Survey | None:
        doc = await self._surveys.find_one({"token_hash": token_hash}, EXCLUDE_OUTBOX)
        if doc is None:
            return None
        if doc["status"] == SurveyStatus.SENT.value:
            # The answer is the truth: the survey may lag behind it after a crash.
            answered = await self._responses.find_one({"_id": doc["_id"]}, EXCLUDE_OUTBOX)
            if answered is not None:
                doc.update(
                    {
                        k: answered.get(k)
                        for k in (
                            "status",
                            "scores",
                            "comment",
                            "responded_at",
                            "channel",
                            "recorded_by",
                        )
                    }
                )
        return survey_from_document(doc)


class LoggingSurveyLinkSender:
    """No mail gateway ships with the suite: record that a link went out (never the token)."""

    async def send(self, survey: Survey, url: str) -> None:
        log.info(
            "survey link issued",
            extra={"survey_id": survey.id, "subject": survey.subject_type.value},
        )


# ---------------------------------------------------------------- knowledge base

_ARTICLES_NEWEST = [SortKey("published_at", descending=True), SortKey("_id", descending=True)]


def _article_from_document(doc: Document) -> Article:
    return Article(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        title=doc["title"],
        body=doc["body"],
        kind=ArticleKind(doc["kind"]),
        tags=tuple(doc.get("tags") or ()),
        author_id=doc["author_id"],
        published_at=doc["published_at"],
        source_ticket_id=doc.get("source_ticket_id"),
    )


class MongoArticleRepository(TenantRepository):
    collection_name = ARTICLES

    async def add(
        self, article: Article, keywords: list[str], events: Sequence[CloudEvent]
    ) -> bool:
        doc = {
            "_id": article.id,
            "tenant_id": article.tenant_id,
            "title": article.title,
            "body": article.body,
            "kind": article.kind.value,
            "tags": list(article.tags),
            "keywords": keywords,
            "author_id": article.author_id,
            "published_at": article.published_at,
            "source_ticket_id": article.source_ticket_id,
        }
        async with staged_events(self._db, ARTICLES, article.id, events) as staged:
            try:
                await self.collection.insert_one({**doc, **staged.fields})
            except DuplicateKeyError:
                staged.abandon()
                return False
        return True

    async def get(self, article_id: str) -> Article | None:
        doc = await self.collection.find_one(self.scoped({"_id": article_id}))
        return _article_from_document(doc) if doc else None

    async def search(
        self, terms: list[str], tags: list[str], kind: str | None, page: PageRequest
    ) -> Page[Article]:
        # An array field equals a value when it contains it: every term and tag must be there.
        clauses: list[Document] = [{"keywords": t} for t in terms]
        clauses += [{"tags": t} for t in tags]
        if kind:
            clauses.append({"kind": kind})
        return (await self.paginate(and_(*clauses), _ARTICLES_NEWEST, page)).map(
            _article_from_document
        )
