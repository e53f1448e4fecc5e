"""What the use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_customer.domain.custom_fields import (
    CustomFieldCondition,
    CustomFieldDefinition,
    CustomFieldFilter,
)
from crm_customer.domain.customer import Customer, HistoryEntry
from crm_customer.domain.files import FileChange, StoredFile
from crm_customer.domain.permissions import Visibility
from crm_customer.domain.tiers import TierThresholds

# Builds the customer (and its events) once the number it gets is known.
NumberedBuild = Callable[[str], tuple[Customer, list[CloudEvent]]]


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter_input: Any = None
    order_field: str = "created_at"
    descending: bool = True
    search: str | None = None
    include_deleted: bool = False
    # False for readers who see contact details masked: searching them would reveal them.
    search_contacts: bool = True
    # Filters on custom fields as asked (the API) and as checked against the definitions
    # (the use case); the repository only ever reads the checked conditions.
    custom_field_filters: tuple[CustomFieldFilter, ...] = ()
    custom_field_conditions: tuple[CustomFieldCondition, ...] = ()
    # Only these ids / none of these ids (the cadence filter, `service/cadence.py`).
    ids_in: tuple[str, ...] | None = None
    ids_not_in: tuple[str, ...] | None = None


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
        self, day: date, builds: Sequence[NumberedBuild], import_job_id: str | None = None
    ) -> list[Customer | None]:
        """Insert in order under consecutive free numbers; None where the name was taken.
        Customers of an import carry the job's id (a resumed job recognises its own)."""

    async def name_keys(self) -> dict[str, str]:
        """Every live customer's normalised name → id (the import's dedupe set)."""

    async def name_keys_of_import(self, import_job_id: str) -> set[str]:
        """Normalised names of the live customers an import job inserted."""

    async def announce_imported(
        self, events_by_customer: Mapping[str, Sequence[CloudEvent]]
    ) -> None:
        """Record these events of imported customers again (ids decide duplicates)."""

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

    async def get_outdated(self, customer_id: str) -> Customer | None:
        """The customer if its stored derived fields are older than the current ones."""

    async def tier_inputs(self) -> list[tuple[str, int, int, str]]:
        """Every live customer's id, deal revenue, potential and stored value tier."""


class TierThresholdStore(Protocol):
    """The tenant's value tier thresholds (the defaults until an admin sets them)."""

    async def get(self) -> TierThresholds: ...

    async def put(self, thresholds: TierThresholds, actor_id: str) -> None: ...


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
    # What a restarted service needs to resume the job: the request as it was made (who,
    # with which roles and team; format and mappings), how many valid rows are done, and the
    # lease of the process running it (renewed with every progress write).
    table_format: str = "CSV"
    mapping: dict[str, str] = dataclasses.field(default_factory=dict)
    custom_columns: dict[str, str] = dataclasses.field(default_factory=dict)
    update_existing: bool = False
    actor_roles: list[str] = dataclasses.field(default_factory=list)
    actor_team: str | None = None
    rows_done: int = 0
    lease: str = ""
    heartbeat_at: datetime | None = None
    resumed: int = 0


class ImportJobRepository(Protocol):
    async def add(self, job: ImportJob) -> None: ...

    async def save_progress(self, job: ImportJob, events: Sequence[CloudEvent] = ()) -> bool:
        """Write the counts (and ``events``) if ``job.lease`` still holds the job; renews the
        heartbeat. False if another process has taken the job over."""

    async def renew(self, job: ImportJob) -> bool:
        """Renew only the heartbeat if ``job.lease`` still holds the job (False: taken over)."""

    async def get(self, job_id: str) -> ImportJob | None: ...


class StaleJobs(Protocol):
    """Import jobs across tenants, for the resumer of a (re)started process."""

    async def stale(self, older_than: datetime) -> list[ImportJob]:
        """RUNNING jobs whose heartbeat is older than ``older_than``."""

    async def claim(
        self, job: ImportJob, lease: str, now: datetime, abandoned_before: datetime
    ) -> bool:
        """Take the job over if its lease and heartbeat are still the ones read: exactly one
        of several processes trying at once wins (a claim by unique insert). A claim made
        before ``abandoned_before`` whose maker never took the job over does not block."""


class FileStore(Protocol):
    async def put(self, stored: StoredFile, data: bytes, events: Sequence[CloudEvent] = ()) -> None:
        """Store the bytes and the file document, which carries ``events`` (outbox)."""

    async def metadata(self, file_id: str) -> StoredFile | None:
        """The tenant's file without its bytes, or None."""

    async def list_for_customer(
        self, customer_id: str, page: PageRequest, include_deleted: bool
    ) -> Page[StoredFile]:
        """A customer's files, newest first."""

    async def apply(
        self,
        before: StoredFile,
        after: StoredFile,
        change: FileChange,
        events: Sequence[CloudEvent] = (),
    ) -> bool:
        """Store name, kind and deletion of ``after`` with ``change`` appended to the history
        and ``events`` (outbox) if the file is still as ``before`` (False: it changed
        meanwhile)."""

    async def get(self, file_id: str) -> tuple[StoredFile, bytes] | None:
        """The tenant's file and its bytes, or None."""

    async def move_customer_files(self, from_customer_id: str, to_customer_id: str) -> int:
        """Re-point every file of one customer to another (a merge); how many moved."""


class CustomerServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def customers(self, principal: Any) -> Any: ...

    def files(self, principal: Any) -> Any: ...

    def imports(self, principal: Any) -> Any: ...

    def cadence(self, principal: Any) -> Any: ...
    def tenant_settings(self, principal: Any) -> Any: ...

    def public_url(self, path: str) -> str:
        """``path`` under the suite's public base URL (the gateway; PUBLIC_BASE_URL)."""
        ...
