"""MongoDB access: one client per process, one database per service, tenant-scoped repositories.

Every repository is bound to one tenant at construction and adds ``tenant_id`` to every read
and write it makes, so no query can forget it; unique indexes lead with ``tenant_id`` too.
Code keeps to the subset both MongoDB 7 and FerretDB 1.24 support (see DESIGN.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.pagination import (
    Page,
    PageRequest,
    SortKey,
    cursor_for,
    decode_cursor,
    keyset_condition,
    mongo_sort,
)

Document = dict[str, Any]
log = logging.getLogger(__name__)


def create_client(uri: str, app_name: str, max_pool_size: int = 100) -> AsyncMongoClient[Document]:
    """The process's client.

    ``max_pool_size=1`` is for FerretDB 1.24 only: it applies an update as read, then write
    (not in one transaction), so concurrent updates of one document lose writes (measured: of
    100 ``$inc`` and 100 ``$push`` sent at once, 8 and 0 survived; with one connection, all).
    One connection serialises a process's commands. MongoDB updates a document atomically and
    needs no such limit.
    """
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        appname=app_name,
        maxPoolSize=max_pool_size,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
    )


async def ensure_indexes(
    db: AsyncDatabase[Document], indexes: dict[str, Sequence[IndexModel]]
) -> None:
    """Create the missing indexes, one per command.

    FerretDB 1.24 panics on a ``createIndexes`` that names several indexes of which some exist
    already (a restart), so existing ones are skipped and the rest created one by one.
    """
    for collection, models in indexes.items():
        names: set[str] = set()
        keys: dict[tuple[tuple[str, Any], ...], str] = {}
        async for index in await db[collection].list_indexes():
            names.add(index["name"])
            keys[tuple(index["key"].items())] = index["name"]
        for model in models:
            spec = model.document
            if spec["name"] in names:
                continue
            same_keys = keys.get(tuple(spec["key"].items()))
            if same_keys is not None:
                # An older release created these keys under another name: keep that index
                # (creating it again is an IndexOptionsConflict on a database being upgraded).
                log.warning(
                    "index keys already indexed under another name; keeping it",
                    extra={"collection": collection, "index": spec["name"], "existing": same_keys},
                )
                continue
            await db[collection].create_indexes([model])


class TenantRepository:
    """Base of every repository: a collection seen through one tenant."""

    collection_name: ClassVar[str]

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        if not tenant_id:
            raise ValueError("a repository needs a tenant")
        self._db = db
        self.tenant_id = tenant_id
        self.collection: AsyncCollection[Document] = db[self.collection_name]

    def scoped(self, query: Document | None = None) -> Document:
        """The query restricted to this tenant (the tenant condition always wins)."""
        return {**(query or {}), "tenant_id": self.tenant_id}

    async def find_by_ids(self, ids: Sequence[str]) -> dict[str, Document]:
        """One round trip for a batch of ids (what DataLoaders and `_entities` call)."""
        if not ids:
            return {}
        cursor = self.collection.find(self.scoped({"_id": {"$in": list(set(ids))}}))
        return {doc["_id"]: doc async for doc in cursor}

    async def paginate(
        self,
        query: Document,
        sort: list[SortKey],
        page: PageRequest,
    ) -> Page[Document]:
        """A Relay page: keyset on ``sort`` (which must end with a unique key such as ``_id``)."""
        base = self.scoped(query)
        size = page.size
        backward = page.backward
        conditions = [base]
        if page.after:
            values = decode_cursor(page.after, len(sort), "after")
            conditions.append(keyset_condition(sort, values, after=True))
        if page.before:
            values = decode_cursor(page.before, len(sort), "before")
            conditions.append(keyset_condition(sort, values, after=False))
        query_all = conditions[0] if len(conditions) == 1 else {"$and": conditions}
        docs = [
            doc
            async for doc in self.collection.find(
                query_all, sort=mongo_sort(sort, reverse=backward), limit=size + 1
            )
        ]
        has_more = len(docs) > size
        docs = docs[:size]
        if backward:
            docs.reverse()
        total = await self.collection.count_documents(base)
        return Page(
            items=[(doc, cursor_for(doc, sort)) for doc in docs],
            has_next_page=has_more if not backward else page.before is not None,
            has_previous_page=has_more if backward else page.after is not None,
            total_count=total,
        )
