"""Mongo repositories of the quoting service: every query of the service lives here.

Amounts are stored as int64 minor units (never Decimal128, which FerretDB lacks); quantities
as integer thousandths. Status moves are conditional updates on the expected state; their events
are staged in the service's outbox around that write (crm_common.events.outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from bson.int64 import Int64
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.customers.copies import COPY_INDEXES, CUSTOMER_COPIES, CustomerCopy
from crm_common.customers.repoint import CustomerRecords, RepointTarget
from crm_common.errors import Conflict
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import staged_events
from crm_common.limits import check_limit, list_limits
from crm_common.mongo import CrossTenant, Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey
from crm_quoting.domain.assessment import (
    DEFAULT_OBSERVATION_AFTER_DAYS,
    Assessment,
    Engagement,
    Fit,
)
from crm_quoting.domain.catalogue import (
    CatalogueItem,
    Need,
    NeedCategory,
    PriceVersion,
    Solution,
    SolutionKind,
)
from crm_quoting.domain.money import Money, Quantity
from crm_quoting.domain.opportunity import Opportunity, OpportunityStage, StageChange
from crm_quoting.domain.permissions import Visibility
from crm_quoting.domain.quote import ApprovalRecord, Quote, QuoteLine, QuoteStatus
from crm_quoting.service.ports import BoardCell, QuotingSettings

OPPORTUNITIES = "opportunities"
QUOTES = "quotes"
SOLUTIONS = "solutions"
CATALOGUE_ITEMS = "catalogue_items"
NEEDS = "needs"
SETTINGS = "settings"
COUNTERS = "counters"
CUSTOMER_REFS = CUSTOMER_COPIES
OUTBOX_COLLECTIONS = [OPPORTUNITIES, QUOTES]
# What a customer merge re-points (`crm_common.customers.repoint`).
REPOINTED = [RepointTarget(OPPORTUNITIES), RepointTarget(QUOTES)]

_NEWEST = [("created_at", DESCENDING), ("_id", DESCENDING)]
INDEXES = {
    OPPORTUNITIES: [
        IndexModel([("tenant_id", ASCENDING), *_NEWEST], name="tenant_newest"),
        IndexModel(
            [("tenant_id", ASCENDING), ("customer_id", ASCENDING), *_NEWEST],
            name="tenant_customer_newest",
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("owner_id", ASCENDING), *_NEWEST],
            name="tenant_owner_newest",
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("team", ASCENDING), *_NEWEST], name="tenant_team_newest"
        ),
        # The stall loop (cross-tenant, `service/stall.py`): assessed, not yet handled.
        IndexModel([("progress_due_at", ASCENDING)], name="progress_due"),
    ],
    QUOTES: [
        IndexModel(
            [("tenant_id", ASCENDING), ("number", ASCENDING), ("version", ASCENDING)],
            name="tenant_number_version",
            unique=True,
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("opportunity_id", ASCENDING), *_NEWEST],
            name="tenant_opportunity_newest",
        ),
        IndexModel([("tenant_id", ASCENDING), *_NEWEST], name="tenant_newest"),
        IndexModel([("status", ASCENDING), ("valid_until", ASCENDING)], name="status_validity"),
        # A customer merge re-points the absorbed customer's quotes.
        IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="tenant_customer"),
    ],
    SOLUTIONS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)],
            name="tenant_name_id",
        )
    ],
    CATALOGUE_ITEMS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("code", ASCENDING)], name="tenant_code", unique=True
        ),
        IndexModel(
            [("tenant_id", ASCENDING), ("solution_id", ASCENDING), ("code", ASCENDING)],
            name="tenant_solution_code",
        ),
    ],
    NEEDS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("opportunity_id", ASCENDING)], name="tenant_opportunity"
        )
    ],
    CUSTOMER_REFS: COPY_INDEXES,
}

_NEWEST_FIRST = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]


def _day(value: date | None) -> datetime | None:
    # BSON has no date-only type: midnight UTC stands for the day.
    return None if value is None else datetime.combine(value, time(), tzinfo=UTC)


def _undate(value: datetime | None) -> date | None:
    return None if value is None else value.date()


# ---- opportunities ------------------------------------------------------------------------


def _change_doc(change: StageChange) -> Document:
    return {
        "from_stage": change.from_stage.value if change.from_stage else None,
        "to_stage": change.to_stage.value,
        "actor_id": change.actor_id,
        "at": change.at,
        "note": change.note,
    }


def _board_key(stage: OpportunityStage, currency: str) -> str:
    # The pipeline board groups on this one stored string (see `board`).
    return f"{stage.value}|{currency}"


def _opportunity_doc(opportunity: Opportunity) -> Document:
    return {
        "board_key": _board_key(opportunity.stage, opportunity.amount.currency),
        "_id": opportunity.id,
        "tenant_id": opportunity.tenant_id,
        "customer_id": opportunity.customer_id,
        "name": opportunity.name,
        "stage": opportunity.stage.value,
        "owner_id": opportunity.owner_id,
        "team": opportunity.team,
        "amount_minor": Int64(opportunity.amount.amount_minor),
        "currency": opportunity.amount.currency,
        "probability": opportunity.probability,
        "expected_close_date": _day(opportunity.expected_close_date),
        "loss_reason": opportunity.loss_reason,
        "history": [_change_doc(c) for c in opportunity.history],
        "assessments": [_assessment_doc(a) for a in opportunity.assessments],
        "progress_due_at": opportunity.progress_due_at,
        "created_at": opportunity.created_at,
        "updated_at": opportunity.updated_at,
    }


def _opportunity(doc: Document) -> Opportunity:
    return Opportunity(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        name=doc["name"],
        stage=OpportunityStage(doc["stage"]),
        owner_id=doc["owner_id"],
        team=doc.get("team"),
        amount=Money(int(doc.get("amount_minor", 0)), doc.get("currency", "CNY")),
        probability=int(doc.get("probability", 0)),
        expected_close_date=_undate(doc.get("expected_close_date")),
        created_at=doc["created_at"],
        updated_at=doc.get("updated_at") or doc["created_at"],
        loss_reason=doc.get("loss_reason"),
        history=tuple(
            StageChange(
                from_stage=OpportunityStage(h["from_stage"]) if h.get("from_stage") else None,
                to_stage=OpportunityStage(h["to_stage"]),
                actor_id=h["actor_id"],
                at=h["at"],
                note=h.get("note"),
            )
            for h in doc.get("history", [])
        ),
        assessments=tuple(
            Assessment(
                fit=Fit(a["fit"]),
                engagement=Engagement(a["engagement"]),
                decision_progress=a.get("decision_progress"),
                actor_id=a["actor_id"],
                at=a["at"],
            )
            for a in doc.get("assessments", [])
        ),
        progress_due_at=doc.get("progress_due_at"),
    )


def _assessment_doc(assessment: Assessment) -> Document:
    return {
        "fit": assessment.fit.value,
        "engagement": assessment.engagement.value,
        "decision_progress": assessment.decision_progress,
        "actor_id": assessment.actor_id,
        "at": assessment.at,
    }


def _merge_push(update: Document, field: str, value: Any) -> Document:
    """Add a ``$push`` of one value to an update (which may push other fields already)."""
    update.setdefault("$push", {})[field] = value
    return update


def customer_records(db: AsyncDatabase[Document], tenant_id: str) -> CustomerRecords:
    """The tenant's records that name a customer (`REPOINTED`), re-pointed after a merge."""
    return CustomerRecords(db, tenant_id, REPOINTED)


class _ByCustomer(TenantRepository):
    """Records visible by their customer's CURRENT owner and team (the shared customer copy)."""

    async def _visible(self, visibility: Visibility, customer_id: str | None = None) -> Document:
        """The filter of what ``visibility`` reads ({} for everything), of one customer if given."""
        if visibility.everything:
            return {} if customer_id is None else {"customer_id": customer_id}
        ids = await CustomerCopy(self._db, self.tenant_id).visible_ids(
            visibility.owner_id, visibility.team
        )
        if customer_id is not None:
            ids = [customer_id] if customer_id in ids else []
        return {"customer_id": {"$in": ids}}


class MongoOpportunityRepository(_ByCustomer):
    collection_name = OPPORTUNITIES

    async def add(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> None:
        async with staged_events(self._db, OPPORTUNITIES, opportunity.id, events) as staged:
            await self.collection.insert_one({**_opportunity_doc(opportunity), **staged.fields})

    async def get(self, opportunity_id: str, visibility: Visibility) -> Opportunity | None:
        query = self.scoped({"_id": opportunity_id, **await self._visible(visibility)})
        doc = await self.collection.find_one(query)
        return _opportunity(doc) if doc else None

    async def list_page(
        self,
        customer_id: str | None,
        stage: OpportunityStage | None,
        page: PageRequest,
        visibility: Visibility,
    ) -> Page[Opportunity]:
        query = await self._visible(visibility, customer_id)
        if stage is not None:
            query["stage"] = stage.value
        return (await self.paginate(query, _NEWEST_FIRST, page)).map(_opportunity)

    async def board(self, visibility: Visibility) -> list[BoardCell]:
        # FerretDB 1.24 quirks: a $group with a document _id, or with more than one
        # accumulator, yields 0 for all but the first sum. Hence one stored key
        # ("STAGE|CUR") and one aggregation per accumulator.
        match = {"$match": self.scoped(await self._visible(visibility))}

        async def sums(value: Any) -> dict[str, int]:
            group = {"$group": {"_id": "$board_key", "value": {"$sum": value}}}
            cursor = await self.collection.aggregate([match, group])
            return {str(row["_id"]): int(row["value"]) async for row in cursor}

        counts, amounts = await sums(1), await sums("$amount_minor")
        cells = []
        for key, count in counts.items():
            stage, _, currency = key.partition("|")
            cells.append(
                BoardCell(
                    stage=OpportunityStage(stage),
                    currency=currency,
                    count=count,
                    amount_minor=amounts.get(key, 0),
                )
            )
        return cells

    async def move(
        self,
        opportunity: Opportunity,
        expected_stage: OpportunityStage,
        change: StageChange,
        events: Sequence[CloudEvent],
    ) -> bool:
        update: Document = {}
        update["$set"] = {
            "board_key": _board_key(opportunity.stage, opportunity.amount.currency),
            "stage": opportunity.stage.value,
            "probability": opportunity.probability,
            "loss_reason": opportunity.loss_reason,
            "updated_at": opportunity.updated_at,
        }
        _merge_push(update, "history", _change_doc(change))
        async with staged_events(self._db, OPPORTUNITIES, opportunity.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": opportunity.id, "stage": expected_stage.value}),
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1

    async def assess(
        self,
        opportunity: Opportunity,
        assessment: Assessment,
        progress_due_at: datetime | None,
        events: Sequence[CloudEvent],
    ) -> bool:
        update: Document = {
            "$set": {"updated_at": assessment.at, "progress_due_at": progress_due_at}
        }
        _merge_push(update, "assessments", _assessment_doc(assessment))
        async with staged_events(self._db, OPPORTUNITIES, opportunity.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped(
                    {
                        "_id": opportunity.id,
                        "stage": opportunity.stage.value,
                        "updated_at": opportunity.updated_at,
                    }
                ),
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1


class MongoOpportunityStallStore:
    """The stall loop's view of opportunities: across tenants (a system job)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the loop scans every tenant's assessed opportunities; each
        # write names the opportunity's own tenant.
        self._collection = CrossTenant(db)[OPPORTUNITIES]
        self._db = db

    async def due(self, now: datetime, limit: int) -> list[Opportunity]:
        cursor = self._collection.find({"progress_due_at": {"$lte": now}}, limit=limit)
        return [_opportunity(doc) async for doc in cursor]

    async def settle(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> bool:
        """Clear the due time it was found with (announcing ``events`` with it)."""
        async with staged_events(self._db, OPPORTUNITIES, opportunity.id, events) as staged:
            result = await self._collection.update_one(
                {
                    "_id": opportunity.id,
                    "tenant_id": opportunity.tenant_id,
                    "progress_due_at": opportunity.progress_due_at,
                },
                staged.merged({"$set": {"progress_due_at": None}}),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1


# ---- solution library, needs, settings ---------------------------------------------------


def _price_doc(price: PriceVersion) -> Document:
    return {
        "version": price.version,
        "amount_minor": Int64(price.list_price.amount_minor),
        "currency": price.list_price.currency,
        "tax_rate_bp": price.tax_rate_bp,
        "effective_from": price.effective_from,
        "set_by": price.set_by,
    }


def _solution(doc: Document) -> Solution:
    return Solution(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        name=doc["name"],
        kind=SolutionKind(doc["kind"]),
        description=doc.get("description", ""),
        created_at=doc["created_at"],
    )


def _item(doc: Document) -> CatalogueItem:
    return CatalogueItem(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        solution_id=doc["solution_id"],
        code=doc["code"],
        name=doc["name"],
        unit=doc["unit"],
        prices=tuple(
            PriceVersion(
                version=int(p["version"]),
                list_price=Money(int(p["amount_minor"]), p["currency"]),
                tax_rate_bp=int(p["tax_rate_bp"]),
                effective_from=p["effective_from"],
                set_by=p["set_by"],
            )
            for p in doc["prices"]
        ),
        created_at=doc["created_at"],
    )


def _need(doc: Document) -> Need:
    return Need(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        opportunity_id=doc["opportunity_id"],
        category=NeedCategory(doc["category"]),
        description=doc["description"],
        created_by=doc["created_by"],
        created_at=doc["created_at"],
    )


class MongoCatalogueRepository(TenantRepository):
    collection_name = CATALOGUE_ITEMS

    async def add_solution(self, solution: Solution) -> None:
        await self.tenant_collection(SOLUTIONS).insert_one(
            {
                "_id": solution.id,
                "tenant_id": solution.tenant_id,
                "name": solution.name,
                "kind": solution.kind.value,
                "description": solution.description,
                "created_at": solution.created_at,
            }
        )

    async def solutions(self) -> list[Solution]:
        # The whole library (needs are matched against all of it), bounded: never cut silently.
        limit = list_limits().max_catalogue_entries
        cursor = self.tenant_collection(SOLUTIONS).find(
            {}, sort=[("name", 1), ("_id", 1)], limit=limit + 1
        )
        found = [_solution(doc) async for doc in cursor]
        check_limit(
            len(found),
            limit,
            "the solutions in the library",
            "CRM_MAX_CATALOGUE_ENTRIES",
            "ask an administrator to raise it",
        )
        return found

    async def get_solution(self, solution_id: str) -> Solution | None:
        doc = await self.tenant_collection(SOLUTIONS).find_one({"_id": solution_id})
        return _solution(doc) if doc else None

    async def add_item(self, item: CatalogueItem) -> None:
        try:
            await self.collection.insert_one(
                {
                    "_id": item.id,
                    "tenant_id": item.tenant_id,
                    "solution_id": item.solution_id,
                    "code": item.code,
                    "name": item.name,
                    "unit": item.unit,
                    "prices": [_price_doc(p) for p in item.prices],
                    "price_version": item.current_price.version,
                    "created_at": item.created_at,
                }
            )
        except DuplicateKeyError as exc:
            raise Conflict(f"catalogue code {item.code} is taken", field="input.code") from exc

    async def items(self, solution_id: str | None) -> list[CatalogueItem]:
        query = {} if solution_id is None else {"solution_id": solution_id}
        limit = list_limits().max_catalogue_entries
        cursor = self.collection.find(query, sort=[("code", 1)], limit=limit + 1)
        found = [_item(doc) async for doc in cursor]
        check_limit(
            len(found),
            limit,
            "the catalogue items" + ("" if solution_id is None else " of this solution"),
            "CRM_MAX_CATALOGUE_ENTRIES",
            "list one solution's items (solutionId)"
            if solution_id is None
            else "ask an administrator to raise it",
            field=None if solution_id is None else "solutionId",
        )
        return found

    async def items_by_id(self, ids: Sequence[str]) -> dict[str, CatalogueItem]:
        return {key: _item(doc) for key, doc in (await self.find_by_ids(ids)).items()}

    async def add_price(self, item_id: str, expected_version: int, price: PriceVersion) -> bool:
        result = await self.collection.update_one(
            self.scoped({"_id": item_id, "price_version": expected_version}),
            {"$push": {"prices": _price_doc(price)}, "$set": {"price_version": price.version}},
        )
        return result.modified_count == 1

    async def add_need(self, need: Need) -> None:
        await self.tenant_collection(NEEDS).insert_one(
            {
                "_id": need.id,
                "tenant_id": need.tenant_id,
                "opportunity_id": need.opportunity_id,
                "category": need.category.value,
                "description": need.description,
                "created_by": need.created_by,
                "created_at": need.created_at,
            }
        )

    async def needs(self, opportunity_id: str) -> list[Need]:
        cursor = self.tenant_collection(NEEDS).find(
            {"opportunity_id": opportunity_id}, sort=[("created_at", 1), ("_id", 1)]
        )
        return [_need(doc) async for doc in cursor]

    async def settings(self) -> QuotingSettings:
        doc = await self.tenant_collection(SETTINGS).find_one({"_id": self.tenant_id})
        if doc is None:
            return QuotingSettings(500, "", "", "")
        return QuotingSettings(
            auto_approve_below_bp=int(doc["auto_approve_below_bp"]),
            company_name=doc.get("company_name", ""),
            company_address=doc.get("company_address", ""),
            company_phone=doc.get("company_phone", ""),
            observation_after_days=int(
                doc.get("observation_after_days", DEFAULT_OBSERVATION_AFTER_DAYS)
            ),
        )

    async def save_settings(self, settings: QuotingSettings) -> None:
        await self.tenant_collection(SETTINGS).update_one(
            {"_id": self.tenant_id},
            {
                "$set": {
                    "auto_approve_below_bp": settings.auto_approve_below_bp,
                    "company_name": settings.company_name,
                    "company_address": settings.company_address,
                    "company_phone": settings.company_phone,
                    "observation_after_days": settings.observation_after_days,
                }
            },
            upsert=True,
        )


# ---- quotes --------------------------------------------------------------------------------


def _line_doc(line: QuoteLine) -> Document:
    amounts = line.amounts
    return {
        "position": line.position,
        "description": line.description,
        "unit": line.unit,
        "quantity_thousandths": Int64(line.quantity.thousandths),
        "unit_price_minor": Int64(line.unit_price_minor),
        "discount_bp": line.discount_bp,
        "tax_rate_bp": line.tax_rate_bp,
        "catalogue_item_id": line.catalogue_item_id,
        "catalogue_code": line.catalogue_code,
        "price_version": line.price_version,
        # Stored for readers of the database; the domain recomputes them from the inputs.
        "net_minor": Int64(amounts.net_minor),
        "tax_minor": Int64(amounts.tax_minor),
        "total_minor": Int64(amounts.total_minor),
    }


def _approval_doc(approval: ApprovalRecord | None) -> Document | None:
    if approval is None:
        return None
    return {
        "decision": approval.decision,
        "actor_id": approval.actor_id,
        "comment": approval.comment,
        "at": approval.at,
    }


def _quote_doc(quote: Quote) -> Document:
    return {
        "_id": quote.id,
        "tenant_id": quote.tenant_id,
        "number": quote.number,
        "version": quote.version,
        "opportunity_id": quote.opportunity_id,
        "customer_id": quote.customer_id,
        "owner_id": quote.owner_id,
        "team": quote.team,
        "currency": quote.currency,
        "valid_until": _day(quote.valid_until),
        "status": quote.status.value,
        "lines": [_line_doc(line) for line in quote.lines],
        "total_minor": Int64(quote.totals.total_minor),
        "max_discount_bp": quote.max_discount_bp,
        "superseded": quote.superseded,
        "approval": _approval_doc(quote.approval),
        "response_comment": quote.response_comment,
        "previous_version_id": quote.previous_version_id,
        "history": [{"action": a, "actor_id": who, "at": at} for a, who, at in quote.history],
        "created_at": quote.created_at,
        "updated_at": quote.updated_at,
    }


def _quote(doc: Document) -> Quote:
    approval = doc.get("approval")
    valid_until = _undate(doc["valid_until"])
    assert valid_until is not None
    return Quote(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        number=doc["number"],
        version=int(doc["version"]),
        opportunity_id=doc["opportunity_id"],
        customer_id=doc["customer_id"],
        owner_id=doc["owner_id"],
        team=doc.get("team"),
        currency=doc["currency"],
        valid_until=valid_until,
        status=QuoteStatus(doc["status"]),
        lines=tuple(
            QuoteLine(
                position=int(line["position"]),
                description=line["description"],
                unit=line["unit"],
                quantity=Quantity(int(line["quantity_thousandths"])),
                unit_price_minor=int(line["unit_price_minor"]),
                discount_bp=int(line["discount_bp"]),
                tax_rate_bp=int(line["tax_rate_bp"]),
                catalogue_item_id=line.get("catalogue_item_id"),
                catalogue_code=line.get("catalogue_code"),
                price_version=line.get("price_version"),
            )
            for line in doc["lines"]
        ),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        superseded=bool(doc.get("superseded")),
        approval=ApprovalRecord(
            decision=approval["decision"],
            actor_id=approval["actor_id"],
            comment=approval.get("comment"),
            at=approval["at"],
        )
        if approval
        else None,
        response_comment=doc.get("response_comment"),
        previous_version_id=doc.get("previous_version_id"),
        history=tuple((h["action"], h["actor_id"], h["at"]) for h in doc.get("history", [])),
    )


class MongoQuoteRepository(_ByCustomer):
    collection_name = QUOTES

    async def next_number_sequence(self, day: date) -> int:
        counter = await self.tenant_collection(COUNTERS).find_one_and_update(
            {"_id": f"{self.tenant_id}:quote:{day:%Y%m%d}"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None
        return int(counter["seq"])

    async def add(self, quote: Quote, events: Sequence[CloudEvent]) -> None:
        try:
            async with staged_events(self._db, QUOTES, quote.id, events) as staged:
                await self.collection.insert_one({**_quote_doc(quote), **staged.fields})
        except DuplicateKeyError as exc:
            raise Conflict(
                f"version {quote.version} of {quote.number} exists already", field="input.id"
            ) from exc

    async def get(self, quote_id: str, visibility: Visibility) -> Quote | None:
        doc = await self.collection.find_one(
            self.scoped({"_id": quote_id, **await self._visible(visibility)})
        )
        return _quote(doc) if doc else None

    async def list_page(
        self, opportunity_id: str | None, page: PageRequest, visibility: Visibility
    ) -> Page[Quote]:
        query = await self._visible(visibility)
        if opportunity_id is not None:
            query["opportunity_id"] = opportunity_id
        return (await self.paginate(query, _NEWEST_FIRST, page)).map(_quote)

    async def versions(self, number: str) -> list[Quote]:
        cursor = self.collection.find(self.scoped({"number": number}), sort=[("version", 1)])
        return [_quote(doc) async for doc in cursor]

    async def transition(
        self,
        quote: Quote,
        expected: QuoteStatus,
        target: QuoteStatus,
        *,
        action: str,
        actor_id: str,
        events: Sequence[CloudEvent],
        at: datetime,
        approval: ApprovalRecord | None = None,
        response_comment: str | None = None,
    ) -> bool:
        now = at
        update: Document = {}
        fields: Document = {"status": target.value, "updated_at": now}
        if approval is not None:
            fields["approval"] = _approval_doc(approval)
        if response_comment is not None:
            fields["response_comment"] = response_comment
        update["$set"] = fields
        _merge_push(update, "history", {"action": action, "actor_id": actor_id, "at": now})
        async with staged_events(self._db, QUOTES, quote.id, events) as staged:
            result = await self.collection.update_one(
                self.scoped({"_id": quote.id, "status": expected.value, "superseded": False}),
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1

    async def supersede(self, quote: Quote) -> bool:
        result = await self.collection.update_one(
            self.scoped({"_id": quote.id, "superseded": False}), {"$set": {"superseded": True}}
        )
        return result.modified_count == 1


class MongoQuoteExpiryStore:
    """The expiry job's view of quotes: across tenants (a system job, not a user request)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the expiry job scans every tenant's sent quotes; each write
        # names the quote's own tenant.
        self._collection = CrossTenant(db)[QUOTES]
        self._db = db  # for the outbox (one queue for every tenant)

    async def due(self, today: date, limit: int) -> list[Quote]:
        cursor = self._collection.find(
            {
                "status": QuoteStatus.SENT.value,
                "valid_until": {"$lt": _day(today)},
                "superseded": False,
            },
            limit=limit,
        )
        return [_quote(doc) async for doc in cursor]

    async def expire(self, quote: Quote, events: Sequence[CloudEvent], at: datetime) -> bool:
        update: Document = {"$set": {"status": QuoteStatus.EXPIRED.value, "updated_at": at}}
        _merge_push(update, "history", {"action": "expire", "actor_id": "system", "at": at})
        async with staged_events(self._db, QUOTES, quote.id, events) as staged:
            result = await self._collection.update_one(
                {
                    "_id": quote.id,
                    "tenant_id": quote.tenant_id,
                    "status": QuoteStatus.SENT.value,
                    "superseded": False,
                },
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1
