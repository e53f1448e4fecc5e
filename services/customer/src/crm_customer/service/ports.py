"""What the use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_customer.domain.custom_fields import (
    CustomFieldCondition,
    CustomFieldDefinition,
    CustomFieldFilter,
)
from crm_customer.domain.customer import Customer, HistoryEntry
from crm_customer.domain.files import StoredFile
from crm_customer.domain.permissions import Visibility

# Builds the customer (and its events) once the number it gets is known.
NumberedBuild = Callable[[str], tuple[Customer, list[CloudEvent]]]


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter_input: Any = None
    order_field: str = "created_at"
    descending: bool = True
    search: str | None = None
    include_deleted: bool = False
    # Filters on custom fields as asked (the API) and as checked against the definitions
    # (the use case); the repository only ever reads the checked conditions.
    custom_field_filters: tuple[CustomFieldFilter, ...] = ()
    custom_field_conditions: tuple[CustomFieldCondition, ...] = ()


@dataclass(frozen=True, slots=True)
class BoundingBox:
    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True, slots=True)
class RegionCount:
    province: str | None
    city: str | None
    count: int


class CustomerRepository(Protocol):
    tenant_id: str

    async def find_by_name_key(self, name_key: str) -> Customer | None: ...

    async def insert_numbered(self, day: date, build: NumberedBuild) -> Customer:
        """Insert under the next free number of ``day``: the insert itself claims the number,
        so a failed insert uses none (gap-free). `Conflict` if the name is taken."""

    async def insert_numbered_many(
        self, day: date, builds: Sequence[NumberedBuild]
    ) -> list[Customer | None]:
        """Insert in order under consecutive free numbers; None where the name was taken."""

    async def name_keys(self) -> dict[str, str]:
        """Every live customer's normalised name → id (the import's dedupe set)."""

    async def get(self, customer_id: str) -> Customer | None:
        """The whole customer (history included) whatever its state, or None."""

    async def save(
        self,
        before: Customer,
        after: Customer,
        history: Sequence[HistoryEntry],
        events: Sequence[CloudEvent],
    ) -> bool:
        """Write ``after`` if the stored version is still ``before.version``; False if not."""

    async def get_many(self, ids: Sequence[str], visibility: Visibility) -> dict[str, Customer]: ...

    async def list_customers(
        self, query: ListQuery, page: PageRequest, visibility: Visibility
    ) -> Page[Customer]: ...

    async def duplicates(
        self,
        name_key: str | None,
        phone_keys: Sequence[str],
        email_keys: Sequence[str],
        visibility: Visibility,
        limit: int,
    ) -> list[Customer]: ...

    async def in_box(
        self, box: BoundingBox, visibility: Visibility, limit: int
    ) -> list[Customer]: ...

    async def counts_by_region(
        self, visibility: Visibility, by_city: bool
    ) -> list[RegionCount]: ...


class CustomFieldRepository(Protocol):
    """The tenant's custom field definitions."""

    async def all(self) -> dict[str, CustomFieldDefinition]:
        """Every definition of the tenant by key."""

    async def put(self, definition: CustomFieldDefinition, *, created: bool) -> None:
        """Insert (``created``) or replace the definition of its key."""


@dataclass(slots=True)
class ImportJob:
    id: str
    tenant_id: str
    actor_id: str
    file_id: str
    status: str  # RUNNING, DONE, FAILED
    total: int
    processed: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class ImportJobRepository(Protocol):
    async def add(self, job: ImportJob) -> None: ...

    async def save_progress(self, job: ImportJob, events: Sequence[CloudEvent] = ()) -> None: ...

    async def get(self, job_id: str) -> ImportJob | None: ...


class FileStore(Protocol):
    async def put(self, stored: StoredFile, data: bytes) -> None: ...

    async def get(self, file_id: str) -> tuple[StoredFile, bytes] | None:
        """The tenant's file and its bytes, or None."""


class CustomerServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def customers(self, principal: Any) -> Any: ...

    def files(self, principal: Any) -> Any: ...

    def imports(self, principal: Any) -> Any: ...
