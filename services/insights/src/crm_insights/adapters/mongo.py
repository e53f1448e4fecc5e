"""Mongo side of insights: the read-model collections, their writes and every report query.

FerretDB 1.24 computes only the FIRST accumulator of a ``$group`` correctly (the others come
back as 0), so every grouped figure here is its own pipeline with a single ``$sum``; durations
(cycle time, decision time) are computed in Python from the few documents concerned.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from crm_common.customers.repoint import RepointTarget, repoint_customer
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import staged_events
from crm_common.limits import check_limit, list_limits
from crm_common.mongo import CrossTenant, Document, TenantCollection, tenant_collection
from crm_insights.domain.health import (
    ACTIVITY_WINDOW,
    LOOKBACK,
    SURVEY_WINDOW,
    HealthInputs,
    OpenOpportunity,
    SurveyAnswer,
)
from crm_insights.domain.periods import Bucket, bucket_field, bucket_key
from crm_insights.domain.potential import RECENT_WINDOW as POTENTIAL_RECENT
from crm_insights.domain.potential import (
    REGULARITY_WINDOWS,
    YEAR,
    CustomerHistory,
    Deal,
    Survey,
    Ticket,
)
from crm_insights.domain.reports import PerformerFigures
from crm_insights.domain.scope import ReportScope
from crm_insights.service.ports import Fact, FactChange, HealthRecord, ScoringFacts

HEALTH = "customer_health"
READ_MODELS = [*(f.value for f in Fact), HEALTH]
# Interactions both models look at: health-v1's windows, potential-v2's six 30-day windows.
INTERACTION_LOOKBACK = max(LOOKBACK, POTENTIAL_RECENT * REGULARITY_WINDOWS)
_DUPLICATE_KEY = 11000

_by_customer = IndexModel([("tenant_id", ASCENDING), ("customer_id", ASCENDING)])
INDEXES: dict[str, Sequence[IndexModel]] = {
    Fact.CUSTOMERS: [
        IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)]),
        # The customers a rep or a team sees.
        IndexModel([("tenant_id", ASCENDING), ("owner_id", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("team", ASCENDING)]),
        # The observation report (`adapters/observation.py`).
        IndexModel([("tenant_id", ASCENDING), ("cadence", ASCENDING)], name="tenant_cadence"),
    ],
    Fact.OPPORTUNITIES: [
        _by_customer,
        IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)]),
    ],
    Fact.QUOTES: [
        _by_customer,
        IndexModel([("tenant_id", ASCENDING), ("submitted_at", ASCENDING)]),
    ],
    Fact.INTERACTIONS: [
        _by_customer,
        IndexModel([("tenant_id", ASCENDING), ("occurred_at", ASCENDING)]),
    ],
    Fact.FOLLOWUPS: [_by_customer],
    Fact.ACTIVITIES: [_by_customer],
    Fact.TICKETS: [_by_customer, IndexModel([("tenant_id", ASCENDING), ("opened_at", ASCENDING)])],
    Fact.SURVEYS: [_by_customer],
    HEALTH: [
        IndexModel([("dirty", ASCENDING)]),
        IndexModel([("next_rescore_at", ASCENDING)]),
        # A tenant's health records (reports, the churn list).
        IndexModel([("tenant_id", ASCENDING), ("_id", ASCENDING)]),
        # The potential list: a tenant's customers by one dimension (`adapters/potential.py`).
        *(
            IndexModel(
                [("tenant_id", ASCENDING), (field, DESCENDING), ("_id", ASCENDING)],
                name=f"tenant_{field}",
            )
            for field in ("purchase_power", "growth", "loyalty")
        ),
    ],
}

# Which filterable fields a fact carries itself; the others are the customer's.
_OWN_FIELDS: dict[Fact, frozenset[str]] = {
    Fact.CUSTOMERS: frozenset({"owner_id", "team"}),
    Fact.OPPORTUNITIES: frozenset({"owner_id", "team"}),
    Fact.QUOTES: frozenset({"owner_id"}),
    Fact.INTERACTIONS: frozenset({"owner_id"}),
    Fact.FOLLOWUPS: frozenset({"owner_id"}),
    Fact.IMPROVEMENT_TASKS: frozenset({"owner_id", "team"}),
}
# What a customer merge re-points: every fact that names a customer (the customer's own fact
# records the merge itself, see `projections`).
_REPOINTED = [RepointTarget(f.value) for f in Fact if f is not Fact.CUSTOMERS]
_LIVE_CUSTOMER = {"merged_into": None, "deleted": {"$ne": True}}


class MongoFactWriter:
    """Applies `FactChange`s for one tenant (see its docstring for why each is safe)."""

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._db = db
        self.tenant_id = tenant_id

    def _collection(self, name: str) -> TenantCollection:
        return tenant_collection(self._db, name, self.tenant_id)

    async def apply(self, change: FactChange) -> None:
        collection = self._collection(change.fact.value)
        key = {"_id": change.id, "tenant_id": self.tenant_id}
        # A document seen for the first time takes its guarded state in the same write (one
        # round trip instead of one per group); guarded fields never overlap the plain ones.
        on_insert: dict[str, Any] = {"tenant_id": self.tenant_id}
        for group, (at, values) in (change.guarded or {}).items():
            on_insert.update(values)
            on_insert[f"{group}_at"] = at
        update: dict[str, Any] = {"$setOnInsert": on_insert}
        if change.values:
            update["$set"] = dict(change.values)
        if change.maximum:
            update["$max"] = dict(change.maximum)
        if change.minimum:
            update["$min"] = dict(change.minimum)
        if change.add_to_set:
            update["$addToSet"] = dict(change.add_to_set)
        result = await collection.update_one(key, update, upsert=True)
        if result.upserted_id is not None:
            return
        for group, (at, values) in (change.guarded or {}).items():
            stamp = f"{group}_at"
            await collection.update_one(
                {**key, "$or": [{stamp: {"$exists": False}}, {stamp: {"$lt": at}}]},
                {"$set": {**values, stamp: at}},
            )

    async def repoint_customer(self, merged_id: str, kept_id: str) -> None:
        # The plain part is the shared re-pointing; the health score is insights' own. When
        # the kept customer was merged in turn already (a chain applied out of order, as a
        # replay may read it), the facts go where the chain ends, marked as the merges in
        # order would have left them.
        final, last = kept_id, merged_id
        customers = self._collection(Fact.CUSTOMERS.value)
        for _ in range(8):
            doc = await customers.find_one({"_id": final}, {"merged_into": 1})
            target = (doc or {}).get("merged_into")
            if not target or target == final:
                break
            final, last = target, final
        await repoint_customer(
            self._db, self.tenant_id, merged_id, final, _REPOINTED, marked_from=last
        )
        await self._collection(HEALTH).delete_one({"_id": merged_id})

    async def mark_dirty(self, customer_id: str) -> None:
        await self._collection(HEALTH).update_one(
            {"_id": customer_id},
            {
                "$set": {"dirty": True},
                "$inc": {"dirty_seq": 1},
                "$setOnInsert": {"churn_raised": False, "potential_published": None},
            },
            upsert=True,
        )


def _change_ops(tenant_id: str, change: FactChange) -> list[UpdateOne]:
    """`MongoFactWriter.apply` as bulk operations on a document that exists (the batch writer
    inserts new ones first): the update, then one guarded ``$set`` per group (a no-op right
    after the insert, whose stamp equals the event's time).

    No upsert: when the ``_id`` exists under another tenant (an event naming a foreign
    tenant's customer id), the filter matches nothing and the event changes nothing here,
    where an upsert would fail the whole batch with a duplicate key."""
    key = {"_id": change.id, "tenant_id": tenant_id}
    on_insert: dict[str, Any] = {"tenant_id": tenant_id}
    for group, (at, values) in (change.guarded or {}).items():
        on_insert.update(values)
        on_insert[f"{group}_at"] = at
    update: dict[str, Any] = {"$setOnInsert": on_insert}
    for operator, part in (
        ("$set", change.values),
        ("$max", change.maximum),
        ("$min", change.minimum),
        ("$addToSet", change.add_to_set),
    ):
        if part:
            update[operator] = dict(part)
    ops = [UpdateOne(key, update)]
    for group, (at, values) in (change.guarded or {}).items():
        stamp = f"{group}_at"
        ops.append(
            UpdateOne(
                {**key, "$or": [{stamp: {"$exists": False}}, {stamp: {"$lt": at}}]},
                {"$set": {**values, stamp: at}},
            )
        )
    return ops


def _dirty_op(tenant_id: str, customer_id: str) -> UpdateOne:
    """Flag an existing health record (no upsert: see `_change_ops`)."""
    return UpdateOne(
        {"_id": customer_id, "tenant_id": tenant_id},
        {"$set": {"dirty": True}, "$inc": {"dirty_seq": 1}},
    )


def _as_new_document(tenant_id: str, change: FactChange) -> Document:
    """The document the upsert of `_change_ops` creates when ``change`` is the first one."""
    document: Document = {"_id": change.id, "tenant_id": tenant_id}
    for group, (at, values) in (change.guarded or {}).items():
        document.update(values)
        document[f"{group}_at"] = at
    for part in (change.values, change.maximum, change.minimum):
        document.update(part or {})
    document.update({name: [value] for name, value in (change.add_to_set or {}).items()})
    return document


class MongoFactBatchWriter:
    """Applies a batch of changes in a few commands, every lookup by ``_id``.

    Measured on FerretDB 1.24 (SQLite): an upsert that inserts costs ~50× a plain update and
    an insert in an ``insert_many`` next to nothing, while ``$in`` scans the collection. So each
    document's first change in the batch is tried as an insert (all of them in one unordered
    ``insert_many``); only documents that already exist, and later changes to the same
    document, go through the update path — in their original order.
    """

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: one consumer poll (or a replay) carries events of many
        # tenants, written in a few bulk commands; every operation names its event's tenant.
        self._db = db
        self._all = CrossTenant(db)

    async def write(
        self,
        changes: Sequence[tuple[str, FactChange]],
        dirty: Sequence[tuple[str, str]],
    ) -> None:
        by_collection: dict[str, list[tuple[str, FactChange]]] = defaultdict(list)
        for tenant_id, change in changes:
            by_collection[change.fact.value].append((tenant_id, change))
        for name, ordered_changes in by_collection.items():
            await self._write_collection(name, ordered_changes)
        if dirty:
            await self._mark_dirty(dirty)

    async def _insert_new(self, name: str, documents: list[Document]) -> set[int]:
        """Insert ``documents``; the positions of those that already existed."""
        try:
            await self._all[name].insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                raise
            return {int(error["index"]) for error in errors}
        return set()

    async def _write_collection(self, name: str, changes: list[tuple[str, FactChange]]) -> None:
        first: dict[str, int] = {}  # document id → position of its first change
        for position, (_, change) in enumerate(changes):
            first.setdefault(change.id, position)
        candidates = sorted(first.values())
        existing = await self._insert_new(
            name, [_as_new_document(*changes[position]) for position in candidates]
        )
        inserted = {candidates[i] for i in range(len(candidates)) if i not in existing}
        ops = [
            op
            for position, (tenant_id, change) in enumerate(changes)
            if position not in inserted
            for op in _change_ops(tenant_id, change)
        ]
        if ops:
            # Ordered: a document's upsert precedes its guarded updates.
            await self._all[name].bulk_write(ops, ordered=True)

    async def _mark_dirty(self, dirty: Sequence[tuple[str, str]]) -> None:
        fresh = [
            {
                "_id": customer_id,
                "tenant_id": tenant_id,
                "dirty": True,
                "dirty_seq": 1,
                "churn_raised": False,
                "potential_published": None,
            }
            for tenant_id, customer_id in dirty
        ]
        existing = await self._insert_new(HEALTH, fresh)
        if existing:
            await self._all[HEALTH].bulk_write(
                [_dirty_op(*dirty[i]) for i in sorted(existing)], ordered=False
            )

    async def repoint_customer(self, tenant_id: str, merged_id: str, kept_id: str) -> None:
        await MongoFactWriter(self._db, tenant_id).repoint_customer(merged_id, kept_id)

    async def merged_into(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        # By ``_id`` (point lookups on FerretDB, `find_ids`), then the merge mark: a merged
        # customer's fact keeps ``merged_into`` (projections, `_customer_merged`).
        customers = tenant_collection(self._db, Fact.CUSTOMERS.value, tenant_id)
        docs = await customers.find_ids(sorted(set(customer_ids)))
        return {doc["_id"]: doc["merged_into"] for doc in docs if doc.get("merged_into")}


def record_of(doc: Document) -> HealthRecord:
    return HealthRecord(
        customer_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        owner_id=doc.get("owner_id"),
        churn_risk=doc.get("churn_risk"),
        potential=doc.get("potential"),
        drivers=tuple(doc.get("drivers") or ()),
        computed_at=doc.get("computed_at"),
        model_version=doc.get("model_version"),
        churn_raised=bool(doc.get("churn_raised")),
        potential_published=doc.get("potential_published"),
        dirty_seq=int(doc.get("dirty_seq") or 0),
        churn_seq=int(doc.get("churn_seq") or 0),
        potential_seq=int(doc.get("potential_seq") or 0),
        team=doc.get("team"),
        potential_scores=doc.get("potential_scores"),
        potential_drivers=doc.get("potential_drivers"),
        forecast=tuple(doc.get("forecast") or ()),
        potential_model=doc.get("potential_model"),
        potential_announced=doc.get("potential_announced"),
        potential_change_seq=int(doc.get("potential_change_seq") or 0),
    )


def deal_of(doc: Document) -> Deal | None:
    created = doc.get("created_at")
    if created is None:  # a stage move seen before its creation: not known enough yet
        return None
    probability = doc.get("probability")
    expected = doc.get("expected_close")
    return Deal(
        created_at=created,
        amount_minor=int(doc.get("amount_minor") or 0),
        currency=doc.get("currency") or "",
        stage=doc.get("stage"),
        probability=int(probability) if probability is not None else None,
        outcome=doc.get("outcome"),
        closed_at=doc.get("closed_at"),
        expected_close=date.fromisoformat(expected) if isinstance(expected, str) else None,
    )


def customer_history(
    customer: Document,
    deals: Sequence[Deal],
    quotes: Sequence[tuple[datetime, int]],
    interactions: Sequence[datetime],
    surveys: Sequence[Survey],
    tickets: Sequence[Ticket],
    moves: Sequence[Document],
) -> CustomerHistory:
    """The history potential-v2 scores, from the customer's fact documents."""
    return CustomerHistory(
        created_at=customer.get("created_at"),
        value_tier=customer.get("value_tier"),
        industry=customer.get("industry"),
        employees=customer.get("employees"),
        revenue_band=customer.get("revenue_band"),
        budget_max_minor=customer.get("budget_max_minor"),
        tier_known_at=customer.get("tier_at"),
        profile_known_at=customer.get("profile_at"),
        status=customer.get("status"),
        deleted=bool(customer.get("deleted")),
        merged_into=customer.get("merged_into"),
        deals=tuple(deals),
        quotes=tuple(quotes),
        interactions=tuple(interactions),
        surveys=tuple(surveys),
        tickets=tuple(tickets),
        churned_at=tuple(
            m["changed_at"]
            for m in moves
            if m.get("to_status") == "CHURNED" and m.get("changed_at")
        ),
        reactivated_at=tuple(
            m["changed_at"]
            for m in moves
            if m.get("from_status") == "CHURNED"
            and m.get("to_status") != "CHURNED"
            and m.get("changed_at")
        ),
    )


class MongoHealthStore:
    """The scoring pass's view: due records of every tenant, their inputs, conditional saves."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # Cross-tenant on purpose: the scoring loop picks due records of every tenant; the
        # inputs of one record are read through that record's tenant.
        self._db = db
        self._health: AsyncCollection[Document] = CrossTenant(db)[HEALTH]

    async def due_for_scoring(self, now: datetime, limit: int) -> list[HealthRecord]:
        query = {"$or": [{"dirty": True}, {"next_rescore_at": {"$lte": now}}]}
        return [record_of(doc) async for doc in self._health.find(query, limit=limit)]

    async def facts_for(self, record: HealthRecord, now: datetime) -> ScoringFacts:
        """One read of the customer's facts, for both models (health-v1 and potential-v2)."""
        of_customer = {"customer_id": record.customer_id}

        def facts(fact: Fact) -> TenantCollection:
            return tenant_collection(self._db, fact.value, record.tenant_id)

        customer = (
            await facts(Fact.CUSTOMERS).find_one(
                {"_id": record.customer_id},
                {
                    "owner_id": 1,
                    "team": 1,
                    "value_tier": 1,
                    "industry": 1,
                    "employees": 1,
                    "revenue_band": 1,
                    "budget_max_minor": 1,
                    "tier_at": 1,
                    "profile_at": 1,
                    "created_at": 1,
                    "status": 1,
                    "deleted": 1,
                    "merged_into": 1,
                },
            )
            or {}
        )
        interactions = [
            doc["occurred_at"]
            async for doc in facts(Fact.INTERACTIONS).find(
                {**of_customer, "occurred_at": {"$gt": now - INTERACTION_LOOKBACK}},
                {"occurred_at": 1},
            )
        ]
        followups_due = [
            doc["due_at"]
            async for doc in facts(Fact.FOLLOWUPS).find(
                {**of_customer, "completed_at": None, "due_at": {"$ne": None}}, {"due_at": 1}
            )
        ]
        urgent = await facts(Fact.TICKETS).count_documents(
            {**of_customer, "priority": "URGENT", "status": {"$ne": "RESOLVED"}}
        )
        tickets = [
            Ticket(doc["opened_at"], doc.get("category"))
            async for doc in facts(Fact.TICKETS).find(
                {**of_customer, "opened_at": {"$gt": now - YEAR}},
                {"opened_at": 1, "category": 1},
            )
        ]
        surveys = [
            Survey(doc["responded_at"], int(doc["score_sum"]), int(doc["score_count"]))
            async for doc in facts(Fact.SURVEYS).find(
                {**of_customer, "responded_at": {"$gt": now - YEAR}},
                {"responded_at": 1, "score_sum": 1, "score_count": 1},
            )
        ]
        answers = [
            SurveyAnswer(s.responded_at, s.score_sum, s.score_count)
            for s in surveys
            if s.responded_at > now - SURVEY_WINDOW
        ]
        open_opportunities: list[OpenOpportunity] = []
        deals: list[Deal] = []
        won = 0
        async for doc in facts(Fact.OPPORTUNITIES).find(
            of_customer,
            {
                "outcome": 1,
                "stage": 1,
                "stage_at": 1,
                "created_at": 1,
                "closed_at": 1,
                "amount_minor": 1,
                "currency": 1,
                "probability": 1,
                "expected_close": 1,
            },
        ):
            deal = deal_of(doc)
            if deal is not None:
                deals.append(deal)
            if doc.get("outcome") == "WON":
                won += 1
            elif doc.get("outcome") is None and doc.get("stage"):
                moved = doc.get("stage_at") or doc.get("created_at") or now
                open_opportunities.append(
                    OpenOpportunity(doc["stage"], moved, int(doc.get("amount_minor") or 0))
                )
        quotes = [
            (at, int(doc.get("total_minor") or 0))
            async for doc in facts(Fact.QUOTES).find(
                of_customer, {"total_minor": 1, "created_at": 1, "submitted_at": 1}
            )
            if (at := doc.get("created_at") or doc.get("submitted_at")) is not None
        ]
        moves = [
            doc
            async for doc in facts(Fact.STATUS_CHANGES).find(
                of_customer, {"from_status": 1, "to_status": 1, "changed_at": 1}
            )
        ]
        attended = [
            doc["attended_at"]
            async for doc in facts(Fact.ACTIVITIES).find(
                {**of_customer, "attended_at": {"$gt": now - ACTIVITY_WINDOW}},
                {"attended_at": 1},
            )
        ]
        health = HealthInputs(
            now=now,
            interaction_times=tuple(t for t in interactions if t > now - LOOKBACK),
            open_followups_due=tuple(followups_due),
            open_urgent_tickets=urgent,
            survey_answers=tuple(answers),
            open_opportunities=tuple(open_opportunities),
            won_opportunities=won,
            activities_attended=tuple(attended),
        )
        history = customer_history(customer, deals, quotes, interactions, surveys, tickets, moves)
        return ScoringFacts(health, history, customer.get("owner_id"), customer.get("team"))

    async def save_score(
        self,
        record: HealthRecord,
        values: Mapping[str, Any],
        events: Sequence[CloudEvent],
    ) -> bool:
        update: dict[str, Any] = {"$set": dict(values)}
        async with staged_events(self._db, HEALTH, record.customer_id, events) as staged:
            result = await self._health.update_one(
                {
                    "_id": record.customer_id,
                    "tenant_id": record.tenant_id,
                    "dirty_seq": record.dirty_seq,
                    "churn_raised": record.churn_raised,
                },
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1

    async def mark_all_dirty(self) -> int:
        result = await self._health.update_many({}, {"$set": {"dirty": True}})
        return result.modified_count


class MongoHealthReader:
    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        self._health = tenant_collection(db, HEALTH, tenant_id)
        self.tenant_id = tenant_id

    async def health_of(self, customer_ids: Sequence[str]) -> dict[str, HealthRecord]:
        if not customer_ids:
            return {}
        docs = await self._health.find_ids(sorted(set(customer_ids)))
        return {doc["_id"]: record_of(doc) for doc in docs}


def _period(value: datetime | None, bucket: Bucket, zone: tzinfo = UTC) -> str:
    return bucket_key(value, bucket, zone) if value is not None else ""


class MongoReportQueries:
    """Grouped figures over one tenant's read models, within a report scope."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        tenant_id: str,
        zone_of: Callable[[str], Awaitable[tzinfo]] | None = None,
    ) -> None:
        self._db = db
        self.tenant_id = tenant_id
        # Periods computed at query time use the tenant's zone too (crm_common.tenants).
        self._zone_of = zone_of

    async def _zone(self) -> tzinfo:
        return await self._zone_of(self.tenant_id) if self._zone_of is not None else UTC

    def _collection(self, fact: Fact) -> TenantCollection:
        return tenant_collection(self._db, fact.value, self.tenant_id)

    async def _match(self, fact: Fact, scope: ReportScope, time_field: str | None) -> Document:
        """The query for ``fact`` documents in ``scope``, through the customer where needed."""
        query: Document = {"tenant_id": self.tenant_id}
        if time_field is not None and (scope.start or scope.end):
            window: Document = {}
            if scope.start:
                window["$gte"] = scope.start
            if scope.end:
                window["$lt"] = scope.end
            query[time_field] = window
        own = _OWN_FIELDS.get(fact, frozenset())
        of_customer: Document = {}
        if scope.customer_type is not None:
            # The profile's type where the event carried it, else the lifecycle status.
            of_customer["$or"] = [
                {"customer_type": scope.customer_type},
                {"customer_type": None, "status": scope.customer_type},
            ]
        if scope.region is not None:
            of_customer["region"] = scope.region
        for name, value in (("owner_id", scope.owner_id), ("team", scope.team)):
            if value is not None:
                (query if name in own else of_customer)[name] = value
        if fact is Fact.CUSTOMERS:
            return {**query, **of_customer, **_LIVE_CUSTOMER}
        if of_customer:
            # A bounded set (no $lookup on FerretDB): past the limit, say so rather than
            # report over a silently incomplete set of customers.
            limit = list_limits().max_report_customers
            ids = [
                doc["_id"]
                async for doc in self._collection(Fact.CUSTOMERS).find(
                    of_customer, {"_id": 1}, limit=limit + 1
                )
            ]
            check_limit(
                len(ids),
                limit,
                "the customers matching the report's customer filters",
                "CRM_MAX_REPORT_CUSTOMERS",
                "narrow the filters (type, region, owner, team)",
            )
            query["customer_id"] = {"$in": ids}
        return query

    async def _group(
        self,
        fact: Fact,
        match: Document,
        keys: Mapping[str, str],
        value: int | str = 1,
        unwind: str | None = None,
    ) -> dict[tuple[Any, ...], int]:
        """``$sum`` of ``value`` per combination of ``keys`` (name → document path)."""
        pipeline: list[Document] = [{"$match": match}]
        if unwind:
            pipeline.append({"$unwind": f"${unwind}"})
        group_id = {name: f"${path}" for name, path in keys.items()}
        pipeline.append({"$group": {"_id": group_id, "n": {"$sum": value}}})
        totals: dict[tuple[Any, ...], int] = defaultdict(int)
        async for doc in await self._collection(fact).aggregate(pipeline):
            ids = doc["_id"] or {}
            totals[tuple(ids.get(name) for name in keys)] += int(doc["n"] or 0)
        return dict(totals)

    async def counts_by_status(self) -> dict[str, int]:
        match = {"tenant_id": self.tenant_id, **_LIVE_CUSTOMER}
        grouped = await self._group(Fact.CUSTOMERS, match, {"s": "status"})
        return {str(k[0]): n for k, n in grouped.items() if k[0]}

    async def counts_by_value_tier(self) -> dict[str, int]:
        match = {"tenant_id": self.tenant_id, **_LIVE_CUSTOMER}
        grouped = await self._group(Fact.CUSTOMERS, match, {"v": "value_tier"})
        return {str(k[0]): n for k, n in grouped.items() if k[0]}

    async def growth_counts(
        self, scope: ReportScope, bucket: Bucket
    ) -> dict[tuple[str, str, str, str], int]:
        match = await self._match(Fact.CUSTOMERS, scope, "created_at")
        keys = {
            "p": bucket_field("created", bucket),
            "k": "customer_type",
            "t": "status",
            "r": "region",
            "s": "source",
        }
        grouped = await self._group(Fact.CUSTOMERS, match, keys)
        counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
        for (p, k, t, r, s), n in grouped.items():
            counts[(p or "", k or t or "", r or "", s or "")] += n
        return dict(counts)

    async def funnel_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[
        dict[int, int],
        dict[tuple[int, str], int],
        dict[str, int],
        list[timedelta],
        dict[tuple[str, str], int],
    ]:
        match = await self._match(Fact.OPPORTUNITIES, scope, "created_at")
        furthest = {
            int(k[0] if k[0] is not None else -1): n
            for k, n in (await self._group(Fact.OPPORTUNITIES, match, {"f": "furthest"})).items()
        }
        amounts = {
            (int(f if f is not None else -1), c or ""): n
            for (f, c), n in (
                await self._group(
                    Fact.OPPORTUNITIES,
                    match,
                    {"f": "furthest", "c": "currency"},
                    "$amount_minor",
                )
            ).items()
        }
        outcomes = {
            (k[0] or "OPEN"): n
            for k, n in (await self._group(Fact.OPPORTUNITIES, match, {"o": "outcome"})).items()
        }
        cycles = [
            doc["closed_at"] - doc["created_at"]
            async for doc in self._collection(Fact.OPPORTUNITIES).find(
                {**match, "outcome": "WON"}, {"created_at": 1, "closed_at": 1}
            )
            if doc.get("created_at") and doc.get("closed_at")
        ]
        trend_keys = {"p": bucket_field("created", bucket), "o": "outcome"}
        trend = {
            (p or "", o or "OPEN"): n
            for (p, o), n in (await self._group(Fact.OPPORTUNITIES, match, trend_keys)).items()
            if p
        }
        return furthest, amounts, outcomes, cycles, trend

    async def quote_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[dict[str, int], dict[str, int], list[timedelta], dict[tuple[str, str], int]]:
        match = await self._match(Fact.QUOTES, scope, "submitted_at")
        match.setdefault("submitted_at", {"$ne": None})
        decisions: Counter[str] = Counter()
        responses: Counter[str] = Counter()
        trend: Counter[tuple[str, str]] = Counter()
        manual_times: list[timedelta] = []
        projection = {"submitted_at": 1, "decision": 1, "automatic": 1, "decided_at": 1}
        zone = await self._zone()
        async for doc in self._collection(Fact.QUOTES).find(match, {**projection, "response": 1}):
            if doc.get("submitted_at") is None:
                continue
            decision = doc.get("decision")
            kind = (
                "PENDING"
                if decision is None
                else "REJECTED"
                if decision == "REJECTED"
                else "AUTO"
                if doc.get("automatic")
                else "MANUAL"
            )
            decisions[kind] += 1
            trend[(_period(doc["submitted_at"], bucket, zone), kind)] += 1
            if kind in ("MANUAL", "REJECTED") and doc.get("decided_at"):
                manual_times.append(doc["decided_at"] - doc["submitted_at"])
            if doc.get("response"):
                responses[doc["response"]] += 1
        return dict(decisions), dict(responses), manual_times, dict(trend)

    async def satisfaction_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[
        dict[tuple[str, str], int], dict[tuple[str, str], int], dict[tuple[str, str], int], int
    ]:
        match = await self._match(Fact.SURVEYS, scope, "responded_at")
        match.setdefault("responded_at", {"$ne": None})
        keys = {"p": bucket_field("responded", bucket), "d": "scores.dimension"}

        async def per_dimension(value: int | str) -> dict[tuple[str, str], int]:
            grouped = await self._group(Fact.SURVEYS, match, keys, value, unwind="scores")
            return {(p or "", d): n for (p, d), n in grouped.items() if d}

        answered = await self._collection(Fact.SURVEYS).count_documents(match)
        return (
            await per_dimension(1),
            await per_dimension("$scores.score"),
            await per_dimension("$scores.satisfied"),
            answered,
        )

    async def sla_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[int, int, int, dict[tuple[str, bool], int], dict[tuple[str, bool], int]]:
        tickets = self._collection(Fact.TICKETS)
        opened_match = await self._match(Fact.TICKETS, scope, "opened_at")
        opened = await tickets.count_documents(opened_match)
        still_open = await tickets.count_documents({**opened_match, "status": {"$ne": "RESOLVED"}})
        breached = await tickets.count_documents(
            {**opened_match, "breaches": {"$in": ["RESPONSE", "RESOLUTION"]}}
        )
        resolved_match = {
            **await self._match(Fact.TICKETS, scope, "resolved_at"),
            "status": "RESOLVED",
        }

        async def resolved_by(path: str) -> dict[tuple[str, bool], int]:
            grouped = await self._group(
                Fact.TICKETS, resolved_match, {"k": path, "w": "within_sla"}
            )
            return {(k or "", bool(w)): n for (k, w), n in grouped.items()}

        return (
            opened,
            still_open,
            breached,
            await resolved_by("priority"),
            await resolved_by(bucket_field("resolved", bucket)),
        )

    async def _owner_teams(self) -> dict[str, str]:
        """Each owner's team, as their customers say (the most frequent one)."""
        pairs = await self._group(
            Fact.CUSTOMERS, {"tenant_id": self.tenant_id}, {"o": "owner_id", "t": "team"}
        )
        best: dict[str, tuple[int, str]] = {}
        for (owner, team), n in pairs.items():
            if owner and team and (owner not in best or (n, team) > best[owner]):
                best[owner] = (n, team)
        return {owner: team for owner, (_, team) in best.items()}

    async def performer_figures(self, scope: ReportScope, board: str) -> PerformerFigures:
        key = "team" if board == "team" else "owner_id"
        won_match = {
            **await self._match(Fact.OPPORTUNITIES, scope, "closed_at"),
            "outcome": "WON",
        }
        open_match = {**await self._match(Fact.OPPORTUNITIES, scope, None), "outcome": None}
        won = await self._group(Fact.OPPORTUNITIES, won_match, {"k": key})
        amounts = await self._group(
            Fact.OPPORTUNITIES, won_match, {"k": key, "c": "currency"}, "$amount_minor"
        )
        open_opportunities = await self._group(Fact.OPPORTUNITIES, open_match, {"k": key})
        new_customers = await self._group(
            Fact.CUSTOMERS, await self._match(Fact.CUSTOMERS, scope, "created_at"), {"k": key}
        )
        by_owner = await self._group(
            Fact.INTERACTIONS,
            await self._match(Fact.INTERACTIONS, scope, "occurred_at"),
            {"k": "owner_id"},
        )
        interactions: dict[str, int] = defaultdict(int)
        teams = await self._owner_teams() if board == "team" else {}
        for (owner,), n in by_owner.items():
            target = teams.get(owner or "") if board == "team" else owner
            if target:
                interactions[target] += n
        return PerformerFigures(
            won={k[0]: n for k, n in won.items() if k[0]},
            won_amounts={(k, c): n for (k, c), n in amounts.items() if k and c},
            open_opportunities={k[0]: n for k, n in open_opportunities.items() if k[0]},
            interactions=dict(interactions),
            new_customers={k[0]: n for k, n in new_customers.items() if k[0]},
        )
