"""Re-pointing a service's records after a customer merge (``crm.customer.merged``).

Every record that names the merged customer is moved to the kept one and remembers where it
came from (``merged_from``). One ``update_many`` per collection, tenant-scoped; applying it again
matches nothing (no record names the merged customer any more), so a redelivered merge event
moves nothing twice. A record written for the merged customer after the merge was applied (an
event from another service still in flight, or read later by a replay) is not moved by it; the
API refuses new records for a merged customer, and read models derived from events resolve the
customer when they write (`CustomerCopy.merged_target`). Merges of a chain applied out of
order end as in order (`CustomerRecords.repoint`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.customers.copies import CustomerCopy
from crm_common.mongo import Document, tenant_collection

MERGED_FROM = "merged_from"


@dataclass(frozen=True, slots=True)
class RepointTarget:
    """A collection and the field of its documents that holds a customer id."""

    collection: str
    customer_field: str = "customer_id"


async def repoint_customer(
    db: AsyncDatabase[Document],
    tenant_id: str,
    merged_id: str,
    kept_id: str,
    targets: Sequence[RepointTarget],
    *,
    marked_from: str | None = None,
) -> dict[str, int]:
    """Move ``merged_id``'s records in ``targets`` to ``kept_id``; how many per collection.
    They are marked ``merged_from`` = ``marked_from`` (default: ``merged_id``)."""
    if merged_id == kept_id:
        return {}
    moved: dict[str, int] = {}
    for target in targets:
        result = await tenant_collection(db, target.collection, tenant_id).update_many(
            {target.customer_field: merged_id},
            {"$set": {target.customer_field: kept_id, MERGED_FROM: marked_from or merged_id}},
        )
        moved[target.collection] = moved.get(target.collection, 0) + result.modified_count
    return moved


class CustomerRecords:
    """One tenant's records, across a service's collections, that name a customer."""

    def __init__(
        self, db: AsyncDatabase[Document], tenant_id: str, targets: Sequence[RepointTarget]
    ) -> None:
        self._db = db
        self.tenant_id = tenant_id
        self._targets = list(targets)

    async def repoint(self, merged_id: str, kept_id: str) -> dict[str, int]:
        """Move ``merged_id``'s records to ``kept_id`` or, when the kept customer has been
        merged in turn already (a chain whose merges are applied out of order: a replay reads
        the second merge's partition first), to where the chain ends, marked as the merges
        applied in order would have left them (``merged_from`` = the last customer before)."""
        final, last = await CustomerCopy(self._db, self.tenant_id).merged_target(kept_id)
        return await repoint_customer(
            self._db,
            self.tenant_id,
            merged_id,
            final,
            self._targets,
            marked_from=last if last is not None else merged_id,
        )
