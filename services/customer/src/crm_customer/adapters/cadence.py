"""The customers' follow-up cadence (`domain.cadence`) in its own collection.

One document per customer that ever left the NORMAL default: ``_id`` = customer id, the
tenant, the cadence now and since when, and the history. Writes are a first insert (a unique
``_id``: two writers racing, one wins and the other retries) or an update conditional on the
``version`` read, each carrying its ``cadence_changed`` event (outbox). A change appends to
the history; only a rebuild placing an older announced decision among newer changes
(`domain.cadence.recorded_change`) rewrites it whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import staged_events
from crm_common.mongo import Document, TenantRepository
from crm_customer.domain.cadence import (
    Cadence,
    CadenceChange,
    CadenceReason,
    CadenceSource,
    CustomerCadence,
)

CUSTOMER_CADENCE = "customer_cadence"
CADENCE_INDEXES = {
    CUSTOMER_CADENCE: [
        # The list filter: the customers of one cadence (OBSERVATION, INTENSIVE).
        IndexModel([("tenant_id", ASCENDING), ("cadence", ASCENDING)], name="tenant_cadence"),
    ]
}


def _change_doc(change: CadenceChange) -> Document:
    doc: Document = {
        "cadence": change.cadence.value,
        "reason": change.reason.value,
        "source": change.source.value,
        "at": change.at,
        "actor_id": change.actor_id,
        "opportunity_id": change.opportunity_id,
        "note": change.note,
    }
    if change.merged_from is not None:
        doc["merged_from"] = change.merged_from
    return doc


def _change(doc: Document) -> CadenceChange:
    return CadenceChange(
        cadence=Cadence(doc["cadence"]),
        reason=CadenceReason(doc["reason"]),
        source=CadenceSource(doc["source"]),
        at=doc["at"],
        actor_id=doc["actor_id"],
        opportunity_id=doc.get("opportunity_id"),
        note=doc.get("note"),
        merged_from=doc.get("merged_from"),
    )


def _cadence(doc: Document) -> CustomerCadence:
    return CustomerCadence(
        customer_id=doc["_id"],
        cadence=Cadence(doc["cadence"]),
        since=doc["since"],
        reason=CadenceReason(doc["reason"]),
        source=CadenceSource(doc["source"]),
        actor_id=doc["actor_id"],
        opportunity_id=doc.get("opportunity_id"),
        note=doc.get("note"),
        version=int(doc["version"]),
        history=tuple(_change(h) for h in doc.get("history", [])),
    )


class MongoCadenceRepository(TenantRepository):
    collection_name = CUSTOMER_CADENCE

    async def get(self, customer_id: str) -> CustomerCadence | None:
        doc = await self.collection.find_one(self.scoped({"_id": customer_id}))
        return _cadence(doc) if doc else None

    async def get_many(self, customer_ids: Sequence[str]) -> dict[str, CustomerCadence]:
        found = await self.find_by_ids(list(customer_ids))
        return {key: _cadence(doc) for key, doc in found.items()}

    async def ids_with(self, cadence: Cadence, limit: int) -> list[str]:
        cursor = self.collection.find(
            self.scoped({"cadence": cadence.value}), projection={"_id": 1}, limit=limit
        )
        return [doc["_id"] async for doc in cursor]

    async def save(
        self, before: CustomerCadence, after: CustomerCadence, events: Sequence[CloudEvent]
    ) -> bool:
        """Store ``after`` if the record is still ``before`` (False: reload and retry)."""
        fields = {
            "cadence": after.cadence.value,
            "since": after.since,
            "reason": after.reason.value,
            "source": after.source.value,
            "actor_id": after.actor_id,
            "opportunity_id": after.opportunity_id,
            "note": after.note,
            "version": before.version + 1,
        }
        appended = after.history[: len(before.history)] == before.history
        kept = len(before.history) if appended else 0
        new_changes = [_change_doc(c) for c in after.history[kept:]]
        async with staged_events(self._db, CUSTOMER_CADENCE, after.customer_id, events) as staged:
            if before.version == 0:
                try:
                    await self.collection.insert_one(
                        {
                            "_id": after.customer_id,
                            "tenant_id": self.tenant_id,
                            **fields,
                            "history": new_changes,
                            **staged.fields,
                        }
                    )
                except DuplicateKeyError:
                    staged.abandon()
                    return False
                return True
            update: Document = (
                {"$set": fields, "$push": {"history": {"$each": new_changes}}}
                if appended
                else {"$set": {**fields, "history": new_changes}}
            )
            result = await self.collection.update_one(
                self.scoped({"_id": after.customer_id, "version": before.version}),
                staged.merged(update),
            )
            if result.modified_count != 1:
                staged.abandon()
        return result.modified_count == 1
