"""Mongo repository of customers: every query of the customer service lives here.

Customer numbers are gap-free because the insert itself claims the number: the unique index
on (tenant, number) lets exactly one insert have each number, and a failed insert (name taken,
crash) has used none. Within a process, creates of one tenant and day are serialised by a lock
(so they don't race each other for the same number); creates that pile up meanwhile go in as
one ordered batch (group commit), so the common path is one insert for many creates. Across
replicas a lost race is a duplicate-key error and the insert is retried with the next number.

FerretDB 1.24 (SQLite) pushes down only ``_id`` equality, so every other filter scans the
collection; the write paths therefore avoid extra reads where the unique indexes can decide.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from crm_common.clock import utc_now
from crm_common.errors import Conflict
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import (
    EXCLUDE_OUTBOX,
    events_after_write,
    staged_events,
    staged_events_many,
)
from crm_common.graphql.filters import to_mongo_filter
from crm_common.mongo import CrossTenant, Document, TenantRepository, ensure_indexes
from crm_common.pagination import (
    Page,
    PageRequest,
    SortKey,
    cursor_for,
    decode_cursor,
    keyset_condition,
    mongo_sort,
)
from crm_common.regions import province_spelling
from crm_customer.domain.completeness import completeness, missing_items
from crm_customer.domain.contacts import Contact, DecisionRole, email_key
from crm_customer.domain.custom_fields import (
    KEY_PATTERN,
    CustomFieldCondition,
    FilterOperator,
)
from crm_customer.domain.customer import (
    BudgetRange,
    CompanySize,
    Customer,
    CustomerStatus,
    CustomerType,
    GeoPoint,
    HistoryEntry,
    Profile,
    Region,
    RevenueBand,
    Review,
    RiskTag,
    SourceChannel,
    Urgency,
    ValueTier,
    customer_number,
)
from crm_customer.domain.permissions import Visibility
from crm_customer.domain.spelling import search_spelling, spell_name
from crm_customer.service.customers import name_conflict
from crm_customer.service.ports import (
    BoundingBox,
    ListQuery,
    NumberedBuild,
    RegionCount,
)

CUSTOMERS = "customers"
# Name claims: ``_id = "<tenant>:<name_key>"`` → the customer holding that name. The unique
# index on customers decides who gets a name; this small-document collection only lets the
# import read a tenant's taken names without scanning the (large) customer documents, which
# on FerretDB cost ≈ 1 ms per customer per import. A missing claim costs a conflict on
# insert (still correct); a claim is removed when its customer lets the name go.
NAMES = "customer_names"
_BACKFILLED = "~backfilled:"
NUMBER_ATTEMPTS = 100
# Documents per insert of a large batch (see `_insert_in_order`).
INSERT_CHUNK = 250

# Unique indexes decide correctness (one customer per name, one per number) on every backend.
INDEXES = {
    CUSTOMERS: [
        IndexModel([("tenant_id", ASCENDING), ("name_key", ASCENDING)], unique=True),
        IndexModel([("tenant_id", ASCENDING), ("number", ASCENDING)], unique=True),
    ],
}

# Order-by field -> document path; `_id` is appended so every ordering is total.
ORDER_PATHS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    # By sound: Chinese names in pinyin order, Latin ones alphabetically (domain/spelling.py).
    "name": "name_sort",
    "number": "number",
    "completeness": "completeness",
}
# What `state_fields` derives (completeness, type, tier, the name's pinyin spellings); a
# document stored with an older number is normalised once by `crm_customer.adapters.migration`.
DERIVED_VERSION = 1

# Indexes that only serve queries. MongoDB uses them; FerretDB 1.24 never does (it pushes
# down only ``_id`` equality) yet maintains each one on every write -- the import measured
# 1.2-1.45x faster without them -- so `ensure_query_indexes` leaves them out there.
QUERY_INDEXES: dict[str, Sequence[IndexModel]] = {
    CUSTOMERS: [
        IndexModel(
            [("tenant_id", ASCENDING), ("number_day", ASCENDING), ("number_seq", DESCENDING)]
        ),
        # Every list order for every visibility (everything, a team's, an owner's), by the
        # equality-sort-range rule: the page is read in index order (tests/query_shapes.json).
        *(
            IndexModel(
                [
                    ("tenant_id", ASCENDING),
                    *visible,
                    (ORDER_PATHS[order], ASCENDING),
                    ("_id", ASCENDING),
                ],
                name=f"list_{'_'.join(v for v, _ in visible) or 'all'}_{order}",
            )
            for visible in ([], [("owner_id", ASCENDING)], [("team", ASCENDING)])
            for order in ("created_at", "updated_at", "name", "number", "completeness")
        ),
        IndexModel([("tenant_id", ASCENDING), ("contacts.phone_key", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("contacts.email_key", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("geo.lat", ASCENDING)]),
    ],
    # The import reads a tenant's taken names.
    NAMES: [IndexModel([("tenant_id", ASCENDING), ("_id", ASCENDING)], name="by_tenant")],
    # A merge re-points the absorbed customer's files.
    "files.files": [
        IndexModel(
            [("metadata.tenant_id", ASCENDING), ("metadata.customer_id", ASCENDING)],
            name="by_customer",
        ),
        # A customer's files, newest first (customerFiles).
        IndexModel(
            [
                ("metadata.tenant_id", ASCENDING),
                ("metadata.customer_id", ASCENDING),
                ("metadata.uploaded_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="by_customer_uploaded",
        ),
        # The purge loop: deleted files of every tenant whose bytes are still there, earliest
        # deleted first (`service.file_purge`).
        IndexModel(
            [("metadata.purged_at", ASCENDING), ("metadata.deleted_at", ASCENDING)],
            name="purge_due",
        ),
    ],
}

# Filter input attribute -> document path. Only these can be filtered on.
FILTER_PATHS = {
    "id": "_id",
    "number": "number",
    "name": "name",
    "status": "status",
    "customer_type": "customer_type",
    "industry": "industry",
    "source": "source",
    "province": "region.province",
    "city": "region.city",
    "address": "address",
    "founded_on": "founded_on",
    "employees": "size.employees",
    "revenue_band": "size.revenue_band",
    "urgency": "urgency",
    "risk_tags": "risk_tags",
    "needs": "needs",
    "budget_min_minor": "budget.min_minor",
    "budget_max_minor": "budget.max_minor",
    "budget_currency": "budget.currency",
    "owner_id": "owner_id",
    "team": "team",
    "tags": "tags",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "completeness": "completeness",
    "missing_items": "missing_items",
    "value_tier": "value_tier",
}

# What a user may type for a filter value -> the stored spelling ("Zhejiang" -> "浙江省").
FILTER_SPELLINGS = {"province": province_spelling}

# List queries leave out what a list never shows (the history can be long).
_LIST_PROJECTION = {"history": 0, **EXCLUDE_OUTBOX}

# Per tenant and day (this process only): the lock that serialises its creates and the last
# number it inserted. Every number up to the cached one exists, so the cache never causes a
# gap; if another replica moved on, the next insert hits the unique index and re-reads.
_number_locks: dict[str, asyncio.Lock] = {}
_last_numbers: dict[str, int] = {}
# Creates waiting to be inserted by whoever holds the lock next (group commit).
_queues: dict[str, list[tuple[NumberedBuild, asyncio.Future[Customer | Conflict]]]] = {}
_commits: set[asyncio.Future[None]] = set()


async def ensure_query_indexes(db: AsyncDatabase[Document]) -> bool:
    """Create the query indexes unless the server is FerretDB; True if it created them."""
    info = await db.client.admin.command("buildInfo")
    if "ferretdbVersion" in info:
        return False
    await ensure_indexes(db, QUERY_INDEXES)
    return True


def _stored_name_key(customer: Customer) -> str | None:
    """The name key the customer holds (a merged tombstone holds none)."""
    return None if customer.merged_into else customer.profile.name_key


def _visibility_query(visibility: Visibility) -> Document:
    if visibility.everything:
        return {}
    if visibility.team is not None:
        return {"team": visibility.team}
    return {"owner_id": visibility.owner_id}


def _as_datetime(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day is not None else None


def _contact_doc(contact: Contact) -> Document:
    return {
        "id": contact.id,
        "name": contact.name,
        "is_primary": contact.is_primary,
        "title": contact.title,
        "decision_role": contact.decision_role.value if contact.decision_role else None,
        "phone": contact.phone,
        "email": contact.email,
        "notes": contact.notes,
        "owner_id": contact.owner_id,
        "phone_key": contact.phone_key,
        "email_key": email_key(contact.email) if contact.email else None,
    }


def _contact_from(doc: Document) -> Contact:
    role = doc.get("decision_role")
    return Contact(
        id=doc["id"],
        name=doc["name"],
        is_primary=bool(doc.get("is_primary")),
        title=doc.get("title"),
        decision_role=DecisionRole(role) if role else None,
        phone=doc.get("phone"),
        email=doc.get("email"),
        notes=doc.get("notes"),
        owner_id=doc.get("owner_id"),
    )


def _history_doc(entry: HistoryEntry) -> Document:
    return {
        "at": entry.at,
        "actor_id": entry.actor_id,
        "field": entry.field,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
    }


def _history_from(doc: Document) -> HistoryEntry:
    return HistoryEntry(
        at=doc["at"],
        actor_id=doc["actor_id"],
        field=doc["field"],
        before=doc.get("before"),
        after=doc.get("after"),
        reason=doc.get("reason"),
    )


def _spelling_fields(name: str) -> Document:
    spelling = spell_name(name)
    return {
        "name_pinyin": spelling.pinyin,
        "name_initials": spelling.initials,
        "name_sort": spelling.sort_key,
    }


def state_fields(customer: Customer) -> Document:
    """Every stored field of the customer except id, tenant, number and history."""
    p = customer.profile
    return {
        "name": p.name,
        "name_key": f"merged:{customer.id}" if customer.merged_into else p.name_key,
        **_spelling_fields(p.name),
        "status": customer.status.value,
        "customer_type": p.customer_type.value,
        "industry": p.industry,
        "region": {"province": p.region.province, "city": p.region.city} if p.region else None,
        "address": p.address,
        "founded_on": _as_datetime(p.founded_on),
        "size": (
            {
                "employees": p.size.employees,
                "revenue_band": p.size.revenue_band.value if p.size.revenue_band else None,
            }
            if p.size
            else None
        ),
        "source": p.source.value if p.source else None,
        "tags": list(p.tags),
        "risk_tags": [t.value for t in p.risk_tags],
        "needs": p.needs,
        "urgency": p.urgency.value if p.urgency else None,
        "budget": (
            {
                "min_minor": p.budget.min_minor,
                "max_minor": p.budget.max_minor,
                "currency": p.budget.currency,
            }
            if p.budget
            else None
        ),
        "geo": {"lat": p.geo.lat, "lng": p.geo.lng} if p.geo else None,
        "owner_id": customer.owner_id,
        "team": customer.team,
        "contacts": [_contact_doc(c) for c in customer.contacts],
        "review": (
            {
                "approved": customer.review.approved,
                "comment": customer.review.comment,
                "actor_id": customer.review.actor_id,
                "at": customer.review.at,
            }
            if customer.review
            else None
        ),
        "deleted_at": customer.deleted_at,
        "merged_into": customer.merged_into,
        "custom_fields": dict(customer.custom_fields),
        "completeness": completeness(customer),
        "missing_items": [item.value for item in missing_items(customer)],
        "deal_revenue_minor": customer.deal_revenue_minor,
        "revenue_quote_ids": list(customer.revenue_quote_ids),
        "value_tier": customer.value_tier.value,
        "derived_version": DERIVED_VERSION,
        "updated_at": customer.updated_at,
        "version": customer.version,
    }


def to_document(customer: Customer, day: date, sequence: int) -> Document:
    return {
        "_id": customer.id,
        "tenant_id": customer.tenant_id,
        "number": customer.number,
        "number_day": f"{day:%Y%m%d}",
        "number_seq": sequence,
        "created_at": customer.created_at,
        "history": [_history_doc(h) for h in customer.history or ()],
        **state_fields(customer),
    }


def from_document(doc: Document) -> Customer:
    region, size, budget, geo, review = (
        doc.get(k) for k in ("region", "size", "budget", "geo", "review")
    )
    founded = doc.get("founded_on")
    profile = Profile(
        name=doc["name"],
        industry=doc.get("industry"),
        customer_type=CustomerType(doc["customer_type"]),
        region=Region(region["province"], region.get("city")) if region else None,
        address=doc.get("address"),
        founded_on=founded.date() if founded else None,
        size=(
            CompanySize(
                size.get("employees"),
                RevenueBand(size["revenue_band"]) if size.get("revenue_band") else None,
            )
            if size
            else None
        ),
        source=SourceChannel(doc["source"]) if doc.get("source") else None,
        tags=tuple(doc.get("tags") or ()),
        risk_tags=tuple(RiskTag(t) for t in doc.get("risk_tags") or ()),
        needs=doc.get("needs"),
        urgency=Urgency(doc["urgency"]) if doc.get("urgency") else None,
        budget=(
            BudgetRange(budget["min_minor"], budget["max_minor"], budget["currency"])
            if budget
            else None
        ),
        geo=GeoPoint(geo["lat"], geo["lng"]) if geo else None,
    )
    history = doc.get("history")
    return Customer(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        number=doc["number"],
        profile=profile,
        status=CustomerStatus(doc["status"]),
        owner_id=doc["owner_id"],
        team=doc.get("team"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        version=int(doc.get("version") or 1),
        contacts=tuple(_contact_from(c) for c in doc.get("contacts") or ()),
        history=tuple(_history_from(h) for h in history) if history is not None else None,
        review=(
            Review(review["approved"], review.get("comment"), review["actor_id"], review["at"])
            if review
            else None
        ),
        deleted_at=doc.get("deleted_at"),
        merged_into=doc.get("merged_into"),
        custom_fields=dict(doc.get("custom_fields") or {}),
        deal_revenue_minor=int(doc.get("deal_revenue_minor") or 0),
        revenue_quote_ids=tuple(doc.get("revenue_quote_ids") or ()),
        value_tier=ValueTier(doc.get("value_tier") or ValueTier.C),
    )


def custom_field_query(condition: CustomFieldCondition) -> Document:
    """One checked condition as a query on ``custom_fields.<key>``.

    The key is re-checked here because it becomes part of a path; the value only ever sits
    under a fixed operator, so it is data, never an operator of its own.
    """
    if not KEY_PATTERN.fullmatch(condition.key):
        raise ValueError(f"not a custom field key: {condition.key!r}")
    path = f"custom_fields.{condition.key}"
    match condition.operator:
        case FilterOperator.IS_NULL:
            return {path: None} if condition.value else {path: {"$ne": None}}
        case FilterOperator.IN:
            return {path: {"$in": list(condition.value)}}
        case _:
            return {path: {f"${condition.operator.value}": condition.value}}


def _prefix(value: str) -> Document:
    return {"$regex": "^" + re.escape(value), "$options": "i"}


class MongoCustomerRepository(TenantRepository):
    collection_name = CUSTOMERS

    async def find_by_name_key(self, name_key: str) -> Customer | None:
        doc = await self.collection.find_one(
            self.scoped({"name_key": name_key}), projection=_LIST_PROJECTION
        )
        return from_document(doc) if doc else None

    async def _last_sequence(self, day: date) -> int:
        doc = await self.collection.find_one(
            self.scoped({"number_day": f"{day:%Y%m%d}"}),
            projection={"number_seq": 1},
            sort=[("number_seq", DESCENDING)],
        )
        return int(doc["number_seq"]) if doc else 0

    async def insert_numbered(self, day: date, build: NumberedBuild) -> Customer:
        """Group commit: creates that arrive while another one is inserting wait for the lock
        and then go in together, as one ordered batch, under consecutive numbers."""
        key = f"{self.tenant_id}:{day:%Y%m%d}"
        future: asyncio.Future[Customer | Conflict] = asyncio.get_running_loop().create_future()
        queue = _queues.setdefault(key, [])
        queue.append((build, future))
        async with _number_locks.setdefault(key, asyncio.Lock()):
            if not future.done():  # nobody took it into their batch yet: take every waiter
                batch = queue[:]
                queue.clear()
                # Shielded: if this request is cancelled, the batch still completes and every
                # waiter still gets its answer.
                commit = asyncio.ensure_future(self._commit(key, day, batch))
                _commits.add(commit)
                commit.add_done_callback(_commits.discard)
                await asyncio.shield(commit)
        result = await future
        if isinstance(result, Conflict):
            raise result
        return result

    async def _commit(
        self,
        key: str,
        day: date,
        batch: list[tuple[NumberedBuild, asyncio.Future[Customer | Conflict]]],
    ) -> None:
        try:
            results = await self._insert_in_order(key, day, [build for build, _ in batch])
        except Exception as exc:
            for _, waiting in batch:
                waiting.set_exception(exc)
        else:
            for (_, waiting), result in zip(batch, results, strict=True):
                waiting.set_result(result)

    async def insert_numbered_many(
        self, day: date, builds: Sequence[NumberedBuild], import_job_id: str | None = None
    ) -> list[Customer | None]:
        key = f"{self.tenant_id}:{day:%Y%m%d}"
        tag = {"import_job": import_job_id} if import_job_id else {}
        async with _number_locks.setdefault(key, asyncio.Lock()):
            results = await self._insert_in_order(key, day, builds, tag)
        return [None if isinstance(r, Conflict) else r for r in results]

    async def _insert_in_order(
        self, key: str, day: date, builds: Sequence[NumberedBuild], tag: Document | None = None
    ) -> list[Customer | Conflict]:
        """Ordered batch inserts under consecutive numbers (the caller holds the lock). An
        insert stops at its first failing document; that one is resolved (name taken → a
        conflict, number taken by another replica → re-read) and the rest is renumbered from
        the first unused number, so no number is skipped.

        Large batches go in as chunks, pipelined: the next chunk's documents are built (CPU)
        while the database stores the previous one, but a chunk is only sent once the one
        before it is in completely, so a failure never leaves a later number in place."""
        results: list[Customer | Conflict | None] = [None] * len(builds)
        pending = list(range(len(builds)))
        if key not in _last_numbers:
            _last_numbers[key] = await self._last_sequence(day)

        events_of: dict[str, Sequence[CloudEvent]] = {}

        def prepare(indexes: list[int], first: int) -> tuple[list[Customer], list[Document]]:
            built = [builds[i](customer_number(day, first + k)) for k, i in enumerate(indexes)]
            documents = [
                {**to_document(customer, day, first + k), **(tag or {})}
                for k, (customer, _) in enumerate(built)
            ]
            events_of.update((customer.id, events) for customer, events in built)
            return [customer for customer, _ in built], documents

        for _ in range(NUMBER_ATTEMPTS):
            if not pending:
                break
            chunks = [pending[i : i + INSERT_CHUNK] for i in range(0, len(pending), INSERT_CHUNK)]
            number = _last_numbers[key] + 1
            customers, documents = prepare(chunks[0], number)
            failure: tuple[list[int], list[Customer], int] | None = None
            for position, chunk in enumerate(chunks):
                sending = asyncio.ensure_future(
                    self._insert_and_claim(documents, customers, events_of)
                )
                number += len(chunk)
                upcoming = None
                if position + 1 < len(chunks):
                    await asyncio.sleep(0)  # let the insert go out before building the next
                    upcoming = prepare(chunks[position + 1], number)
                inserted, failed_at = await sending
                for k in range(inserted):
                    results[chunk[k]] = customers[k]
                _last_numbers[key] += inserted
                if failed_at is not None:
                    failure = (chunk, customers, failed_at)
                    break
                if upcoming is not None:
                    customers, documents = upcoming
            if failure is None:
                pending = []
                break
            chunk, customers, failed_at = failure
            rest = [i for i in pending if results[i] is None]
            failed_index = chunk[failed_at]
            existing = await self.find_by_name_key(customers[failed_at].profile.name_key)
            if existing is not None:
                results[failed_index] = name_conflict(existing)
                pending = [i for i in rest if i != failed_index]
            else:  # another replica took the number
                pending = rest
                _last_numbers[key] = max(_last_numbers[key], await self._last_sequence(day))
        if any(r is None for r in results):
            raise Conflict("could not allocate customer numbers; try again")
        return [r for r in results if r is not None]

    async def _insert_and_claim(
        self,
        documents: list[Document],
        customers: list[Customer],
        events_of: dict[str, Sequence[CloudEvent]],
    ) -> tuple[int, int | None]:
        events = {doc["_id"]: events_of.pop(doc["_id"], ()) for doc in documents}
        if any("import_job" in doc for doc in documents):
            # An import: documents first, then their events straight in ready
            # (`events_after_write`); the import announces its batch under way again when
            # it resumes after a crash (crm_customer.service.imports).
            inserted, failed_at = await self._insert_ordered(documents)
            await events_after_write(
                self._db,
                CUSTOMERS,
                {doc["_id"]: events[doc["_id"]] for doc in documents[:inserted]},
            )
        else:
            async with staged_events_many(self._db, CUSTOMERS, events) as staged:
                for doc in documents:
                    doc.update(staged.fields_for(doc["_id"]))
                inserted, failed_at = await self._insert_ordered(documents)
                staged.landed([doc["_id"] for doc in documents[:inserted]])
        await self._claim_names({c.profile.name_key: c.id for c in customers[:inserted]})
        return inserted, failed_at

    async def _claim_names(self, names: dict[str, str]) -> None:
        if not names:
            return
        claims = [
            {"_id": f"{self.tenant_id}:{key}", "tenant_id": self.tenant_id, "customer_id": cid}
            for key, cid in names.items()
        ]
        try:
            await self.tenant_collection(NAMES).insert_many(claims, ordered=False)
        except BulkWriteError as exc:  # already claimed (a retry, a backfill): keep those
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors") or []):
                raise

    async def _release_name(self, name_key: str, customer_id: str) -> None:
        await self.tenant_collection(NAMES).delete_one(
            {"_id": f"{self.tenant_id}:{name_key}", "customer_id": customer_id}
        )

    async def _insert_ordered(self, documents: list[Document]) -> tuple[int, int | None]:
        """How many of the documents went in, and the index of the one that failed on a
        unique index (None if all went in)."""
        try:
            await self.collection.insert_many(documents, ordered=True)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if not errors or errors[0].get("code") != 11000:
                raise
            return int(exc.details.get("nInserted", 0)), int(errors[0]["index"])
        return len(documents), None

    async def name_keys(self) -> dict[str, str]:
        names = self.tenant_collection(NAMES)
        marker = f"{_BACKFILLED}{self.tenant_id}"
        if await names.find_one({"_id": marker}) is None:
            # Customers from before the claims existed: claim their names once per tenant.
            cursor = self.collection.find({"merged_into": None}, projection={"name_key": 1})
            await self._claim_names({doc["name_key"]: doc["_id"] async for doc in cursor})
            try:
                await names.update_one({"_id": marker}, {"$set": {"at": utc_now()}}, upsert=True)
            except DuplicateKeyError:
                # Cross-tenant on purpose: a marker written by an older release carries no
                # tenant_id (its _id names the tenant), so the scoped upsert cannot see it.
                await CrossTenant(self._db)[NAMES].update_one(
                    {"_id": marker}, {"$set": {"tenant_id": self.tenant_id, "at": utc_now()}}
                )
        prefix = len(self.tenant_id) + 1
        # The marker carries the tenant now too: it is not a claim.
        cursor = names.find({"_id": {"$ne": marker}}, projection={"customer_id": 1})
        return {doc["_id"][prefix:]: doc["customer_id"] async for doc in cursor}

    async def announce_imported(
        self, events_by_customer: Mapping[str, Sequence[CloudEvent]]
    ) -> None:
        """Events of imported customers again (a resumed import's batch under way)."""
        await events_after_write(self._db, CUSTOMERS, events_by_customer)

    async def name_keys_of_import(self, import_job_id: str) -> set[str]:
        cursor = self.collection.find(
            self.scoped({"import_job": import_job_id, "merged_into": None}),
            projection={"name_key": 1},
        )
        return {doc["name_key"] async for doc in cursor}

    async def get(self, customer_id: str) -> Customer | None:
        doc = await self.collection.find_one(
            self.scoped({"_id": customer_id}), projection=EXCLUDE_OUTBOX
        )
        return from_document(doc) if doc else None

    async def save(
        self,
        before: Customer,
        after: Customer,
        history: Sequence[HistoryEntry],
        events: Sequence[CloudEvent],
    ) -> bool:
        update: Document = {"$set": state_fields(after)}
        if history:
            update["$push"] = {"history": {"$each": [_history_doc(h) for h in history]}}
        old_key, new_key = _stored_name_key(before), _stored_name_key(after)
        renamed = old_key != new_key
        if renamed and new_key is not None:
            await self._claim_names({new_key: after.id})
        try:
            async with staged_events(self._db, CUSTOMERS, before.id, events) as staged:
                result = await self.collection.update_one(
                    self.scoped({"_id": before.id, "version": before.version}),
                    staged.merged(update),
                )
                if result.modified_count != 1:
                    staged.abandon()
        except DuplicateKeyError as exc:
            if renamed and new_key is not None:
                await self._release_name(new_key, before.id)
            existing = await self.find_by_name_key(after.profile.name_key)
            if existing is not None:
                raise name_conflict(existing) from exc
            raise
        saved = result.modified_count == 1
        if renamed:
            released = old_key if saved else new_key
            if released is not None:
                await self._release_name(released, before.id)
        return saved

    async def get_many(self, ids: Sequence[str], visibility: Visibility) -> dict[str, Customer]:
        docs = await self.collection.find_ids(
            ids, _visibility_query(visibility), exclude=list(EXCLUDE_OUTBOX)
        )
        return {doc["_id"]: from_document(doc) for doc in docs}

    async def list_customers(
        self, query: ListQuery, page: PageRequest, visibility: Visibility
    ) -> Page[Customer]:
        conditions: list[Document] = [
            c
            for c in (
                to_mongo_filter(query.filter_input, FILTER_PATHS, spellings=FILTER_SPELLINGS),
                _visibility_query(visibility),
            )
            if c
        ]
        conditions.extend(custom_field_query(c) for c in query.custom_field_conditions)
        if query.ids_in is not None:
            conditions.append({"_id": {"$in": list(query.ids_in)}})
        if query.ids_not_in:
            conditions.append({"_id": {"$nin": list(query.ids_not_in)}})
        conditions.append({"merged_into": None})
        if not query.include_deleted:
            conditions.append({"deleted_at": None})
        if query.search:
            text = query.search.strip()
            branches: list[Document] = [{"name": _prefix(text)}, {"number": _prefix(text)}]
            spelled = search_spelling(text)
            if spelled is not None:  # "hzxh" or "hangzhou" finds 杭州西湖…
                branches.append({"name_pinyin": _prefix(spelled)})
                branches.append({"name_initials": _prefix(spelled)})
            digits = re.sub(r"\D", "", text) if query.search_contacts else ""
            if query.search_contacts:
                branches.append({"contacts.email_key": _prefix(text.casefold())})
            if digits and len(digits) >= 3:
                branches.append({"contacts.phone_key": _prefix(digits)})
            conditions.append({"$or": branches})
        sort = [SortKey(ORDER_PATHS[query.order_field], query.descending)]
        sort.append(SortKey("_id", query.descending))
        return (await self._page(conditions, sort, page)).map(from_document)

    async def _page(
        self, conditions: list[Document], sort: list[SortKey], page: PageRequest
    ) -> Page[Document]:
        """Keyset pagination like `TenantRepository.paginate`, without the history field."""
        base = self.scoped({"$and": conditions})
        size, backward = page.size, page.backward
        parts = [base]
        if page.after:
            values = decode_cursor(page.after, len(sort), "after")
            parts.append(keyset_condition(sort, values, after=True))
        if page.before:
            values = decode_cursor(page.before, len(sort), "before")
            parts.append(keyset_condition(sort, values, after=False))
        cursor = self.collection.find(
            parts[0] if len(parts) == 1 else {"$and": parts},
            projection=_LIST_PROJECTION,
            sort=mongo_sort(sort, reverse=backward),
            limit=size + 1,
        )
        docs = [doc async for doc in cursor]
        has_more = len(docs) > size
        docs = docs[:size]
        if backward:
            docs.reverse()
        return Page(
            items=[(doc, cursor_for(doc, sort)) for doc in docs],
            has_next_page=has_more if not backward else page.before is not None,
            has_previous_page=has_more if backward else page.after is not None,
            total_count=await self.collection.count_documents(base),
        )

    async def duplicates(
        self,
        name_key: str | None,
        phone_keys: Sequence[str],
        email_keys: Sequence[str],
        visibility: Visibility,
        limit: int,
    ) -> list[Customer]:
        branches: list[Document] = []
        if name_key:
            branches.append({"name_key": name_key})
        if phone_keys:
            branches.append({"contacts.phone_key": {"$in": list(phone_keys)}})
        if email_keys:
            branches.append({"contacts.email_key": {"$in": list(email_keys)}})
        query = self.scoped({"$or": branches, "merged_into": None, **_visibility_query(visibility)})
        cursor = self.collection.find(query, projection=_LIST_PROJECTION, limit=limit)
        return [from_document(doc) async for doc in cursor]

    async def in_box(self, box: BoundingBox, visibility: Visibility, limit: int) -> list[Customer]:
        # Plain range filters: FerretDB has no geo index. A box across the antimeridian
        # (west > east) is the union of its two halves.
        if box.west <= box.east:
            lng: Document = {"geo.lng": {"$gte": box.west, "$lte": box.east}}
        else:
            lng = {"$or": [{"geo.lng": {"$gte": box.west}}, {"geo.lng": {"$lte": box.east}}]}
        query = self.scoped(
            {
                "$and": [{"geo.lat": {"$gte": box.south, "$lte": box.north}}, lng],
                "deleted_at": None,
                "merged_into": None,
                **_visibility_query(visibility),
            }
        )
        cursor = self.collection.find(
            query, projection=_LIST_PROJECTION, sort=[("_id", ASCENDING)], limit=limit
        )
        return [from_document(doc) async for doc in cursor]

    async def get_outdated(self, customer_id: str) -> Customer | None:
        doc = await self.collection.find_one(
            self.scoped({"_id": customer_id, "derived_version": {"$ne": DERIVED_VERSION}}),
            projection=EXCLUDE_OUTBOX,
        )
        return from_document(doc) if doc else None

    async def tier_inputs(self) -> list[tuple[str, int, int, str]]:
        cursor = self.collection.find(
            self.scoped({"merged_into": None}),
            projection={"deal_revenue_minor": 1, "budget": 1, "value_tier": 1},
        )
        return [
            (
                doc["_id"],
                int(doc.get("deal_revenue_minor") or 0),
                int((doc.get("budget") or {}).get("max_minor") or 0),
                str(doc.get("value_tier") or "C"),
            )
            async for doc in cursor
        ]

    async def counts_by_region(self, visibility: Visibility, by_city: bool) -> list[RegionCount]:
        match = self.scoped(
            {"deleted_at": None, "merged_into": None, **_visibility_query(visibility)}
        )
        group_id: Document = {"province": "$region.province"}
        if by_city:
            group_id["city"] = "$region.city"
        pipeline: list[Document] = [
            {"$match": match},
            {"$group": {"_id": group_id, "count": {"$sum": 1}}},
            {"$sort": {"count": -1}},
        ]
        cursor = await self.collection.aggregate(pipeline)
        return [
            RegionCount(row["_id"].get("province"), row["_id"].get("city"), int(row["count"]))
            async for row in cursor
        ]
