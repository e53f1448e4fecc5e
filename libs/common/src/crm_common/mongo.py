"""MongoDB access: one client per process, one database per service, tenant-scoped repositories.

Every repository is bound to one tenant at construction and sees its collections only through
`TenantCollection`, which adds ``tenant_id`` to every filter and stamps (or checks) it on every
inserted document, so no query can forget it; unique indexes lead with ``tenant_id`` too. The
few operations that must span tenants (consumers that learn the tenant from the event, system
loops, index creation, public token lookups) go through `CrossTenant`, named at each use.
Code keeps to the subset both MongoDB 7 and FerretDB 1.24 support (docs/architecture.md,
"Store profiles").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, ClassVar

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.results import (
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
)

from crm_common.pagination import (
    Page,
    PageRequest,
    SortKey,
    cursor_for,
    decode_cursor,
    keyset_condition,
    mongo_sort,
)
from crm_common.query_shapes import recorder_from_env

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
    recorder = recorder_from_env()
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        event_listeners=[recorder] if recorder is not None else [],
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


TENANT_FIELD = "tenant_id"
STORE_ENV = "MONGODB_STORE"


@cache
def ids_as_point_lookups() -> bool:
    """Whether a batch of ids is read as one ``find_one({_id})`` per id rather than ``$in``.

    ``MONGODB_STORE=ferretdb`` (set by scripts/stack.py when it starts the local FerretDB):
    FerretDB 1.24 pushes down an ``_id`` equality alone, never ``$in`` (nor ``$or``, nor
    ``_id`` together with another field on SQLite), so ``$in`` fetches and filters every
    document of the collection even for one id; a point lookup is served from its ``_id``
    (measured in libs/common/bench/bench_find_by_ids.py). MongoDB (the default) serves
    ``$in`` from the ``_id`` index in one round trip.
    """
    return os.environ.get(STORE_ENV, "mongodb").strip().lower() == "ferretdb"


def sorts_in_memory() -> bool:
    """Whether the store sorts a query's whole result in memory (FerretDB 1.24 never pushes a
    sort down: ``find(filter, sort=..., limit=100)`` reads every matching document first).
    Same switch as `ids_as_point_lookups`; MongoDB walks the declared index instead."""
    return ids_as_point_lookups()


class CrossTenantAccess(ValueError):
    """A filter or a document naming another tenant went to a tenant's collection (a bug)."""


class TenantCollection:
    """One collection seen through one tenant: the only way repositories reach their data.

    Every filter-taking method adds ``tenant_id``, ``aggregate`` starts its pipeline with the
    tenant ``$match``, and inserts and replacements stamp ``tenant_id`` on documents that lack
    it. A filter or a document that names another tenant is refused (`CrossTenantAccess`)
    rather than quietly rewritten. Upserts create documents with the tenant of their filter.
    Only the methods the services use are offered; anything else needs `CrossTenant`,
    deliberately. The tenant is a top-level equality, so ``_id`` lookups stay ``_id`` lookups.
    """

    __slots__ = ("_collection", "tenant_id")

    def __init__(self, collection: AsyncCollection[Document], tenant_id: str) -> None:
        if not tenant_id:
            raise ValueError("a tenant collection needs a tenant")
        self._collection = collection
        self.tenant_id = tenant_id

    @property
    def name(self) -> str:
        return self._collection.name

    def scoped(self, query: Mapping[str, Any] | None = None) -> Document:
        """The filter restricted to this tenant."""
        query = query or {}
        if TENANT_FIELD in query and query[TENANT_FIELD] != self.tenant_id:
            raise CrossTenantAccess(
                f"filter on tenant {query[TENANT_FIELD]!r} sent through tenant {self.tenant_id!r}"
            )
        return {**query, TENANT_FIELD: self.tenant_id}

    def _stamped(self, document: Document) -> Document:
        owner = document.setdefault(TENANT_FIELD, self.tenant_id)
        if owner != self.tenant_id:
            raise CrossTenantAccess(
                f"document of tenant {owner!r} written through tenant {self.tenant_id!r}"
            )
        return document

    # -- reads -----------------------------------------------------------------------------

    def find(
        self, filter: Mapping[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> AsyncCursor[Document]:
        return self._collection.find(self.scoped(filter), *args, **kwargs)

    async def find_one(
        self, filter: Mapping[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> Document | None:
        return await self._collection.find_one(self.scoped(filter), *args, **kwargs)

    async def count_documents(self, filter: Mapping[str, Any], **kwargs: Any) -> int:
        return await self._collection.count_documents(self.scoped(filter), **kwargs)

    async def find_ids(
        self,
        ids: Sequence[Any],
        where: Mapping[str, Any] | None = None,
        *,
        exclude: Sequence[str] = (),
        point_lookups: bool | None = None,
    ) -> list[Document]:
        """This tenant's documents among ``ids`` that also match ``where`` (top-level scalar
        equalities, such as a visibility rule), without the ``exclude`` fields; missing ids,
        other tenants' and non-matching documents are left out.

        ``point_lookups`` (default: `ids_as_point_lookups`): one ``find_one({_id})`` per id,
        with the tenant and ``where`` checked on the document (the same answer as the scoped
        filter), for stores that serve only a bare ``_id`` equality from an index; otherwise
        one ``{_id: {$in: ids}, tenant_id, **where}`` query.
        """
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        conditions = dict(where or {})
        if any(isinstance(value, Mapping) for value in conditions.values()):
            raise ValueError("find_ids takes only scalar equalities in `where`")
        if point_lookups is None:
            point_lookups = ids_as_point_lookups()
        projection = dict.fromkeys(exclude, 0) or None
        if not point_lookups:
            query = {"_id": {"$in": unique}, **conditions}
            return [doc async for doc in self.find(query, projection=projection)]
        conditions[TENANT_FIELD] = self.tenant_id
        found = []
        for id_ in unique:
            doc = await self._collection.find_one({"_id": id_})
            if doc is None or any(doc.get(k) != v for k, v in conditions.items()):
                continue
            for field in exclude:
                doc.pop(field, None)
            found.append(doc)
        return found

    async def distinct(
        self, key: str, filter: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        return await self._collection.distinct(key, self.scoped(filter), **kwargs)

    async def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], **kwargs: Any
    ) -> AsyncCommandCursor[Document]:
        stages = [dict(stage) for stage in pipeline]
        if stages and set(stages[0]) == {"$match"}:
            # Fold into the pipeline's own first $match (one stage, same meaning).
            stages[0] = {"$match": self.scoped(stages[0]["$match"])}
        else:
            stages.insert(0, {"$match": self.scoped()})
        return await self._collection.aggregate(stages, **kwargs)

    # -- writes ----------------------------------------------------------------------------

    async def insert_one(self, document: Document, **kwargs: Any) -> InsertOneResult:
        return await self._collection.insert_one(self._stamped(document), **kwargs)

    async def insert_many(
        self, documents: Sequence[Document], ordered: bool = True, **kwargs: Any
    ) -> InsertManyResult:
        stamped = [self._stamped(document) for document in documents]
        return await self._collection.insert_many(stamped, ordered=ordered, **kwargs)

    async def update_one(
        self,
        filter: Mapping[str, Any],
        update: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        upsert: bool = False,
        **kwargs: Any,
    ) -> UpdateResult:
        return await self._collection.update_one(
            self.scoped(filter), update, upsert=upsert, **kwargs
        )

    async def update_many(
        self,
        filter: Mapping[str, Any],
        update: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        upsert: bool = False,
        **kwargs: Any,
    ) -> UpdateResult:
        return await self._collection.update_many(
            self.scoped(filter), update, upsert=upsert, **kwargs
        )

    async def replace_one(
        self,
        filter: Mapping[str, Any],
        replacement: Document,
        upsert: bool = False,
        **kwargs: Any,
    ) -> UpdateResult:
        return await self._collection.replace_one(
            self.scoped(filter), self._stamped(replacement), upsert=upsert, **kwargs
        )

    async def find_one_and_update(
        self,
        filter: Mapping[str, Any],
        update: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *args: Any,
        **kwargs: Any,
    ) -> Document | None:
        return await self._collection.find_one_and_update(
            self.scoped(filter), update, *args, **kwargs
        )

    async def delete_one(self, filter: Mapping[str, Any], **kwargs: Any) -> DeleteResult:
        return await self._collection.delete_one(self.scoped(filter), **kwargs)

    async def delete_many(self, filter: Mapping[str, Any], **kwargs: Any) -> DeleteResult:
        return await self._collection.delete_many(self.scoped(filter), **kwargs)


def tenant_collection(db: AsyncDatabase[Document], name: str, tenant_id: str) -> TenantCollection:
    """``db[name]`` seen through ``tenant_id`` (for stores that are not a `TenantRepository`)."""
    return TenantCollection(db[name], tenant_id)


class CrossTenant:
    """Unscoped access to a service's collections, for the few operations that span tenants.

    Deliberately separate and explicitly named: every use says why it may not be scoped (an
    event consumer that learns the tenant from the event, a system loop over all tenants, a
    public lookup by an unguessable token). The adapter-boundary test
    (``libs/common/tests/test_tenant_boundary.py``) keeps a reviewed list of where it is used.
    """

    __slots__ = ("_db",)

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    def __getitem__(self, name: str) -> AsyncCollection[Document]:
        return self._db[name]


class TenantRepository:
    """Base of every repository: its collection(s) seen through one tenant."""

    collection_name: ClassVar[str]

    def __init__(self, db: AsyncDatabase[Document], tenant_id: str) -> None:
        if not tenant_id:
            raise ValueError("a repository needs a tenant")
        self._db = db
        self.tenant_id = tenant_id
        self.collection = TenantCollection(db[self.collection_name], tenant_id)

    def tenant_collection(self, name: str) -> TenantCollection:
        """Another collection of the service, seen through this repository's tenant."""
        return TenantCollection(self._db[name], self.tenant_id)

    @property
    def all_tenants_collection(self) -> AsyncCollection[Document]:
        """This repository's collection WITHOUT the tenant scope: only for a check that must
        see other tenants' documents (e.g. refusing an id that belongs to another tenant).
        Each use is on the allow-list of the adapter-boundary test."""
        return CrossTenant(self._db)[self.collection_name]

    def scoped(self, query: Document | None = None) -> Document:
        """The query restricted to this tenant (the tenant condition always wins)."""
        return {**(query or {}), "tenant_id": self.tenant_id}

    async def find_by_ids(self, ids: Sequence[str]) -> dict[str, Document]:
        """A batch of ids (what DataLoaders and `_entities` call): one ``$in`` round trip, or
        point lookups on FerretDB (`TenantCollection.find_ids`)."""
        return {doc["_id"]: doc for doc in await self.collection.find_ids(ids)}

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
