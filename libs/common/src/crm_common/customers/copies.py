"""The local copy of customers every consuming service keeps, learned from ``crm.customer.v1``.

Engagement, quoting and the service desk never read the customer service's database: they copy
what they need of each customer (name, number, owner, team, status, type, deleted / merged
state) from its events, and their visibility rules read the copy's CURRENT owner and team.
This module is that copy, once: the document, the repository and the event handlers.

Ordering and idempotence. Every customer event that changes what is copied carries ``state``:
the copied fields right after the change, stamped with the customer's own ``version`` (1 at
creation, +1 per stored change; the customer service writes conditionally on it, so versions
are a total order per customer, unlike event times taken before a write that may lose a race).
Applying a state is ONE single-document write: ``$set`` of the whole state, upserted, on the
condition that the copy holds an older version (or none). A redelivered event (same version)
or one overtaken by a newer one matches nothing and changes nothing; the upsert then meets the
existing ``_id`` and is refused (duplicate key), which is the "already newer" answer. Because a
state is the whole copied state, skipping an older one loses nothing.

FerretDB 1.24 applies an update as read, then write, not atomically: two processes applying
two different states of one customer at the same instant could leave the older one. Per
customer, events come from one partition, handled by one consumer of the group at a time; the
overlap is a rebalance, where both replicas process the same records, i.e. the same state.
MongoDB evaluates the version condition atomically per document.

Events written before ``state`` existed still apply, field group by field group (owner, status,
deleted), each guarded by its own event-time stamp; ``crm.customer.created`` without state is
version 1 by definition. A merge is final: ``merged_into`` is never cleared by a later state.

A service may keep fields of its own on the copy's documents (engagement: a priority and the
last interaction time) through `CustomerCopy.set_local`; the copy never writes those.

A customer created a moment ago reaches the copy a little later (the event's way through the
outbox and Kafka: typically 0.1-1 s). A write that names a customer the copy lacks therefore
waits for it briefly (`arriving_customer`: polling the copy, bounded by
``CRM_CUSTOMER_COPY_WAIT_S``, 2.5 s by default) and, if it is still missing, answers
``CUSTOMER_NOT_READY`` with ``retryable: true`` instead of "not found": the id may well be of a
customer being set up. An id that cannot be a customer's (customer ids are UUIDs) is "not
found" at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from crm_common.errors import CustomerNotReady, NotFound
from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import (
    CustomerCreated,
    CustomerDeleted,
    CustomerMerged,
    CustomerOwnerChanged,
    CustomerRestored,
    CustomerState,
    CustomerStatusChanged,
    CustomerUpdated,
)
from crm_common.events.envelope import CloudEvent
from crm_common.limits import check_limit, list_limits
from crm_common.mongo import Document, TenantRepository

log = logging.getLogger(__name__)

CUSTOMER_COPIES = "customer_refs"
COPY_INDEXES: list[IndexModel] = [
    IndexModel([("tenant_id", ASCENDING), ("owner_id", ASCENDING)], name="by_owner"),
    IndexModel([("tenant_id", ASCENDING), ("team", ASCENDING)], name="by_team"),
]

# What the copy holds (anything else on a document is the service's own, see `set_local`).
# Copies written before a field existed lack it: a filter on it does not match them.
COPIED_FIELDS = frozenset(CustomerState.model_fields) - {"version", "updated_at"}
VERSION = "version"
_STAMPS = {"owner": "owner_as_of", "status": "status_as_of", "deleted": "deleted_as_of"}
_BOOKKEEPING = frozenset({"_id", "tenant_id", VERSION, "updated_at", "as_of", *_STAMPS.values()})

# Every event type that changes what is copied (what a consumer of the copy subscribes to).
COPIED_EVENTS: tuple[type[EventData], ...] = (
    CustomerCreated,
    CustomerUpdated,
    CustomerStatusChanged,
    CustomerOwnerChanged,
    CustomerDeleted,
    CustomerRestored,
    CustomerMerged,
)


@dataclass(frozen=True, slots=True)
class CopiedCustomer:
    """One customer as the copy knows it (fields an old copy lacks are None)."""

    id: str
    tenant_id: str
    name: str
    owner_id: str
    team: str | None = None
    number: str | None = None
    status: str | None = None
    customer_type: str | None = None
    deleted: bool = False
    merged_into: str | None = None
    version: int | None = None
    updated_at: datetime | None = None
    # For segments (engagement's touches); None / () in copies of older events.
    region_province: str | None = None
    industry: str | None = None
    tags: tuple[str, ...] = ()
    # The service's own fields stored on the same document (`CustomerCopy.set_local`).
    local: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_active(self) -> bool:
        """Neither deleted nor merged away: records may still be opened for it."""
        return not self.deleted and self.merged_into is None


def _copied(doc: Document) -> CopiedCustomer:
    return CopiedCustomer(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        name=doc.get("name") or "",
        owner_id=doc.get("owner_id") or "",
        team=doc.get("team"),
        number=doc.get("number"),
        status=doc.get("status"),
        customer_type=doc.get("customer_type"),
        deleted=bool(doc.get("deleted")),
        merged_into=doc.get("merged_into"),
        version=doc.get(VERSION),
        updated_at=doc.get("updated_at"),
        region_province=doc.get("region_province"),
        industry=doc.get("industry"),
        tags=tuple(doc.get("tags") or ()),
        local={k: v for k, v in doc.items() if k not in COPIED_FIELDS | _BOOKKEEPING},
    )


class CustomerCopy(TenantRepository):
    """One tenant's copy of customers: reads for the service, writes from customer events."""

    collection_name = CUSTOMER_COPIES

    # --- reads ----------------------------------------------------------------------------

    async def get(self, customer_id: str) -> CopiedCustomer | None:
        doc = await self.collection.find_one(self.scoped({"_id": customer_id}))
        return _copied(doc) if doc else None

    async def get_many(self, customer_ids: Sequence[str]) -> dict[str, CopiedCustomer]:
        return {k: _copied(v) for k, v in (await self.find_by_ids(customer_ids)).items()}

    async def is_active(self, customer_id: str) -> bool:
        """A known customer of the tenant that is neither deleted nor merged away."""
        customer = await self.get(customer_id)
        return customer is not None and customer.is_active

    async def visible_ids(self, owner_id: str | None, team: str | None) -> list[str]:
        """Ids of the customers CURRENTLY owned by ``owner_id`` or belonging to ``team``.

        A bounded set (records are filtered by these ids; there is no ``$lookup`` on FerretDB):
        past ``CRM_MAX_VISIBLE_CUSTOMERS`` the answer is a clear error, never a cut list.
        """
        branches: list[Document] = []
        if owner_id:
            branches.append({"owner_id": owner_id})
        if team:
            branches.append({"team": team})
        if not branches:
            return []
        query = branches[0] if len(branches) == 1 else {"$or": branches}
        limit = list_limits().max_visible_customers
        cursor = self.collection.find(query, {"_id": 1}, limit=limit + 1)
        ids = [doc["_id"] async for doc in cursor]
        check_limit(
            len(ids),
            limit,
            "the customers you see",
            "CRM_MAX_VISIBLE_CUSTOMERS",
            "ask an administrator to raise it, or use a role that sees the whole tenant",
        )
        return ids

    async def merged_target(self, customer_id: str) -> tuple[str, str | None]:
        """Where a record of ``customer_id`` belongs now: the customer it was merged into
        (following chains), and the id it was re-pointed from last (None: not merged).

        A merge re-points what is stored (`crm_common.customers.repoint`); a record derived
        from an event that arrives later (another topic, read after the merge live or in a
        replay) is written under this target instead, so where it ends does not depend on
        the order the topics are read in."""
        current, last = customer_id, None
        for _ in range(8):  # chains are short; bounded all the same
            doc = await self.collection.find_one(self.scoped({"_id": current}), {"merged_into": 1})
            target = (doc or {}).get("merged_into")
            if not target or target == current:
                break
            current, last = target, current
        return current, last

    # --- the service's own fields -----------------------------------------------------------

    async def set_local(
        self, customer_id: str, values: Mapping[str, Any], only_if: Document | None = None
    ) -> bool:
        """Set fields of the service's own on a copied customer (when ``only_if`` matches)."""
        clash = set(values) & (COPIED_FIELDS | _BOOKKEEPING)
        if clash:
            raise ValueError(f"copied fields are written by customer events only: {clash}")
        result = await self.collection.update_one(
            self.scoped({**(only_if or {}), "_id": customer_id}), {"$set": dict(values)}
        )
        return result.modified_count == 1

    # --- writes from events ---------------------------------------------------------------

    async def apply_state(self, customer_id: str, state: CustomerState) -> bool:
        """Hold ``state`` unless the copy holds it or a newer one already; True if applied."""
        values = state.model_dump()
        if values["merged_into"] is None:
            del values["merged_into"]  # a merge is final: no state un-merges a customer
        # A late event of an older producer (no state) must not undo this state either.
        values.update(dict.fromkeys(_STAMPS.values(), state.updated_at))
        older = {"$or": [{VERSION: {"$exists": False}}, {VERSION: {"$lt": state.version}}]}
        try:
            await self.collection.update_one(
                self.scoped({"_id": customer_id, **older}), {"$set": values}, upsert=True
            )
        except DuplicateKeyError:
            # The condition did not match an existing document: it holds this version or a
            # newer one. (Or another tenant holds the id, which must never be overwritten.)
            if await self.collection.find_one(self.scoped({"_id": customer_id}), {"_id": 1}):
                return False
            raise ValueError("customer id already belongs to another tenant") from None
        return True

    async def apply_fields(
        self, customer_id: str, group: str, values: Mapping[str, Any], at: datetime
    ) -> bool:
        """An event without ``state`` (older producers): one field group, by event time."""
        stamp = _STAMPS[group]
        not_newer = {"$or": [{stamp: {"$exists": False}}, {stamp: {"$lte": at}}]}
        result = await self.collection.update_one(
            self.scoped({"_id": customer_id, **not_newer}), {"$set": {**values, stamp: at}}
        )
        return result.modified_count == 1

    async def apply_merge(self, merged_id: str, kept_id: str) -> bool:
        """A merge event without ``state``: the merged customer points at the kept one."""
        result = await self.collection.update_one(
            self.scoped({"_id": merged_id}), {"$set": {"merged_into": kept_id}}
        )
        return result.modified_count == 1

    async def apply(self, event: CloudEvent, payload: EventData) -> bool:
        """Apply one customer event to the copy; False when it changes nothing (old/known)."""
        state = getattr(payload, "state", None)
        if isinstance(payload, CustomerMerged):
            if state is not None:
                return await self.apply_state(payload.merged_id, state)
            return await self.apply_merge(payload.merged_id, payload.kept_id)
        customer_id = getattr(payload, "customer_id", None)
        if not isinstance(customer_id, str):
            return False
        if state is None and isinstance(payload, CustomerCreated):
            state = _created_state(payload)
        if state is not None:
            assert isinstance(state, CustomerState)
            return await self.apply_state(customer_id, state)
        match payload:
            case CustomerOwnerChanged():
                values = {"owner_id": payload.to_owner_id, "team": payload.to_team}
                return await self.apply_fields(customer_id, "owner", values, payload.changed_at)
            case CustomerStatusChanged():
                values = {"status": payload.to_status}
                return await self.apply_fields(customer_id, "status", values, payload.changed_at)
            case CustomerDeleted():
                return await self.apply_fields(
                    customer_id, "deleted", {"deleted": True}, payload.deleted_at
                )
            case CustomerRestored():
                return await self.apply_fields(
                    customer_id, "deleted", {"deleted": False}, payload.restored_at
                )
        return False  # an old `updated` names fields, not values: nothing to copy


T = TypeVar("T")

COPY_WAIT_ENV = "CRM_CUSTOMER_COPY_WAIT_S"
DEFAULT_COPY_WAIT_S = 2.5
COPY_POLL_S = 0.1


def copy_wait_s() -> float:
    """How long a write waits for a customer to reach the copy (``CRM_CUSTOMER_COPY_WAIT_S``)."""
    try:
        return max(0.0, float(os.environ.get(COPY_WAIT_ENV, DEFAULT_COPY_WAIT_S)))
    except ValueError:
        return DEFAULT_COPY_WAIT_S


def could_be_customer_id(customer_id: str) -> bool:
    """Customer ids are UUIDs: anything else is not a customer being set up."""
    try:
        uuid.UUID(customer_id)
    except ValueError:
        return False
    return True


async def arriving_customer(
    lookup: Callable[[str], Awaitable[T | None]],
    customer_id: str,
    *,
    field: str,
    wait_s: float | None = None,
    poll_s: float = COPY_POLL_S,
) -> T:
    """The customer from the copy (``lookup``), waiting up to ``wait_s`` for one that was just
    created; `CustomerNotReady` (retryable) if it is still missing, `NotFound` at once for an id
    that cannot be a customer's. Used by every write that opens a record for a customer."""
    found = await lookup(customer_id)
    if found is not None:
        return found
    if not could_be_customer_id(customer_id):
        raise NotFound(f"customer {customer_id} not found", field=field)
    deadline = time.monotonic() + (copy_wait_s() if wait_s is None else wait_s)
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(poll_s, left))
        found = await lookup(customer_id)
        if found is not None:
            return found
    raise CustomerNotReady(
        f"customer {customer_id} is still being set up (or does not exist); retry in a moment",
        field=field,
        retryable=True,
        retryAfterMs=1000,
    )


def _created_state(payload: CustomerCreated) -> CustomerState:
    """A creation is the customer's version 1, whether or not the event says so."""
    return CustomerState(
        version=1,
        number=payload.number,
        name=payload.name,
        status=payload.status,
        owner_id=payload.owner_id,
        team=payload.team,
        customer_type=payload.customer_type,
        updated_at=payload.created_at,
        region_province=payload.region_province,
        industry=payload.purchase_profile.industry if payload.purchase_profile else None,
    )


def customer_copy_handlers(
    copies: Callable[[str], CustomerCopy],
    then: Mapping[str, Handler] | None = None,
    *,
    default: Handler | None = None,
) -> dict[str, Handler]:
    """A consumer handler for every event in `COPIED_EVENTS`: apply it to the event tenant's
    copy, then run the service's own reaction to that type (``then``, else ``default``) —
    always, even when the copy had it already, so a retried reaction is finished."""
    reactions = dict(then or {})

    def handler_for(event_type: str) -> Handler:
        after = reactions.get(event_type, default)

        async def handle(event: CloudEvent, payload: EventData) -> None:
            applied = await copies(event.tenant_id).apply(event, payload)
            if not applied:
                log.debug("customer copy already newer", extra={"event_id": event.id})
            if after is not None:
                await after(event, payload)

        return handle

    return {model.event_type: handler_for(model.event_type) for model in COPIED_EVENTS}


__all__ = [
    "COPIED_EVENTS",
    "COPY_INDEXES",
    "COPY_WAIT_ENV",
    "CUSTOMER_COPIES",
    "CopiedCustomer",
    "CustomerCopy",
    "arriving_customer",
    "copy_wait_s",
    "could_be_customer_id",
    "customer_copy_handlers",
]
