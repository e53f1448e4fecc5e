"""Bulk import (dry run, background job with progress, idempotent, dedupe) and export.

Dedupe is by normalised name against every live customer of the tenant (read once per run)
and within the file; re-running the same file therefore creates nothing twice. Rows are
inserted in batches under consecutive customer numbers (gap-free, see the repository).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.coordination import deterministic_event_id
from crm_common.errors import BadUserInput, CrmError, NotFound
from crm_common.events.contracts.customer import (
    CustomerCreated,
    CustomersImported,
    CustomerUpdated,
)
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import EventsNotRecorded, new_event
from crm_common.localtime import UTC_ZONE, local_date
from crm_customer.domain import permissions
from crm_customer.domain.contacts import Contact
from crm_customer.domain.custom_fields import value_changes
from crm_customer.domain.customer import (
    PROFILE_FIELDS,
    Customer,
    CustomerStatus,
    HistoryEntry,
    profile_changes,
    to_plain,
)
from crm_customer.domain.files import XLSX, FileKind, StoredFile
from crm_customer.domain.importing import (
    MAX_REPORTED_ERRORS,
    MAX_ROWS,
    CustomColumns,
    ImportField,
    ImportRow,
    RowError,
    default_mapping,
    parse_row,
    row_error,
)
from crm_customer.domain.tiers import DEFAULT_THRESHOLDS, TierThresholds, with_derived
from crm_customer.service.customers import (
    EVENT_SOURCE,
    CustomerService,
    copied_state,
    purchase_profile,
)
from crm_customer.service.files import FileService
from crm_customer.service.ports import (
    CustomerRepository,
    CustomFieldRepository,
    ImportJob,
    ImportJobRepository,
    ListQuery,
    StaleJobs,
    TierThresholdStore,
)
from crm_customer.service.tables import TableFormat, read_table, write_table

log = logging.getLogger(__name__)
BATCH = 1000
# Marks the jobs this process runs (see `ImportJob.lease`).
PROCESS_LEASE = str(uuid.uuid4())
# How long a running job may go without a heartbeat before another process resumes it; the
# running process renews it every HEARTBEAT_EVERY (and with each progress write), so only a
# dead or cut-off process goes stale, however slow a batch is.
STALE_AFTER = timedelta(seconds=60)
HEARTBEAT_EVERY = STALE_AFTER / 4
EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE = 200

# Background jobs are kept referenced until they finish (asyncio holds tasks weakly).
_running: set[asyncio.Task[None]] = set()
_job_locks: dict[str, asyncio.Lock] = {}


def _job_lock(job_id: str) -> asyncio.Lock:
    return _job_locks.setdefault(job_id, asyncio.Lock())


@dataclasses.dataclass(frozen=True, slots=True)
class DryRunReport:
    total: int
    valid: int
    duplicates: int
    errors: list[RowError]
    mapping: dict[str, ImportField]


@dataclasses.dataclass(frozen=True, slots=True)
class ExportResult:
    file: StoredFile
    rows: int


class ImportService:
    def __init__(
        self,
        principal: Principal,
        customers: CustomerRepository,
        jobs: ImportJobRepository,
        files: FileService,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
        custom_fields: CustomFieldRepository | None = None,
        tiers: TierThresholdStore | None = None,
        zone_of: Callable[[str], Awaitable[ZoneInfo]] | None = None,
    ) -> None:
        self._tiers = tiers
        self._principal = principal
        self._zone_of = zone_of
        self._customers = customers
        self._jobs = jobs
        self._files = files
        self._fields = custom_fields
        self._notify = notify_outbox
        self._clock = clock

    async def _thresholds(self) -> TierThresholds:
        return await self._tiers.get() if self._tiers is not None else DEFAULT_THRESHOLDS

    async def _local_today(self, now: datetime) -> date:
        """The tenant's local date at ``now`` (customer numbers embed it)."""
        zone = await self._zone_of(self._principal.tenant_id) if self._zone_of else UTC_ZONE
        return local_date(now, zone)

    def _event(self, payload: Any, key: str) -> CloudEvent:
        return new_event(payload, source=EVENT_SOURCE, tenant_id=self._principal.tenant_id, key=key)

    async def _custom_columns(self, custom_columns: Mapping[str, str] | None) -> CustomColumns:
        definitions = await self._fields.all() if self._fields is not None else {}
        by_column = {}
        for column, key in (custom_columns or {}).items():
            if key not in definitions:
                raise BadUserInput(
                    f"custom field {key!r} is not defined for this tenant", field="input.mapping"
                )
            by_column[column] = definitions[key]
        if len(set((custom_columns or {}).values())) < len(by_column):
            raise BadUserInput("a custom field is mapped from two columns", field="input.mapping")
        return CustomColumns(by_column, definitions)

    async def _parse(
        self,
        file_id: str,
        table_format: TableFormat,
        mapping: Mapping[str, ImportField] | None,
        custom_columns: Mapping[str, str] | None = None,
    ) -> tuple[list[ImportRow], list[RowError], dict[str, ImportField]]:
        permissions.can_import(self._principal)
        custom = await self._custom_columns(custom_columns)
        stored, data = await self._files.download(file_id)
        if stored.kind != FileKind.IMPORT:
            raise BadUserInput("that file was not uploaded for import", field="input.fileId")
        header, raw_rows = read_table(data, table_format, MAX_ROWS)
        columns = dict(mapping or {}) if mapping or custom_columns else default_mapping(header)
        missing = [c for c in (*columns, *custom.by_column) if c not in header]
        if missing:
            raise BadUserInput(f"no such columns: {missing}", field="input.mapping")
        if ImportField.NAME not in columns.values():
            raise BadUserInput("map a column to NAME", field="input.mapping")
        today = await self._local_today(self._clock())
        rows: list[ImportRow] = []
        errors: list[RowError] = []
        for number, raw in enumerate(raw_rows, start=1):
            try:
                rows.append(parse_row(number, raw, columns, today, custom))
            except BadUserInput as exc:
                errors.append(row_error(number, exc))
        return rows, errors, columns

    async def dry_run(
        self,
        file_id: str,
        table_format: TableFormat,
        mapping: Mapping[str, ImportField] | None,
        custom_columns: Mapping[str, str] | None = None,
    ) -> DryRunReport:
        """What an import would do, row by row, without writing anything."""
        rows, errors, columns = await self._parse(file_id, table_format, mapping, custom_columns)
        existing = await self._customers.name_keys()
        seen: set[str] = set()
        duplicates = 0
        for row in rows:
            key = row.profile.name_key
            if key in existing or key in seen:
                duplicates += 1
            seen.add(key)
        return DryRunReport(
            total=len(rows) + len(errors),
            valid=len(rows),
            duplicates=duplicates,
            errors=errors[:MAX_REPORTED_ERRORS],
            mapping=columns,
        )

    async def start(
        self,
        file_id: str,
        table_format: TableFormat,
        mapping: Mapping[str, ImportField] | None,
        update_existing: bool,
        custom_columns: Mapping[str, str] | None = None,
    ) -> ImportJob:
        """Validate the whole file, then import it in the background; poll the job."""
        rows, errors, _ = await self._parse(file_id, table_format, mapping, custom_columns)
        principal = self._principal
        job = ImportJob(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            actor_id=principal.user_id,
            file_id=file_id,
            status="RUNNING",
            total=len(rows) + len(errors),
            processed=len(errors),
            failed=len(errors),
            errors=[dataclasses.asdict(e) for e in errors[:MAX_REPORTED_ERRORS]],
            table_format=table_format.value,
            mapping={column: field.value for column, field in (mapping or {}).items()},
            custom_columns=dict(custom_columns or {}),
            update_existing=update_existing,
            actor_roles=sorted(principal.roles),
            actor_team=principal.team,
            lease=PROCESS_LEASE,
        )
        await self._jobs.add(job)
        self._spawn(job, rows, resuming=False)
        return job

    def _spawn(self, job: ImportJob, rows: list[ImportRow], *, resuming: bool) -> None:
        task = asyncio.create_task(self._run(job, rows, resuming), name=f"import-{job.id}")
        _running.add(task)
        task.add_done_callback(_running.discard)

    async def resume(self, job: ImportJob) -> None:
        """Go on with a job another process left behind (this process holds its lease now):
        read the file again and continue after the last batch it recorded."""
        mapping = {column: ImportField(field) for column, field in job.mapping.items()}
        try:
            rows, _, _ = await self._parse(
                job.file_id, TableFormat(job.table_format), mapping, job.custom_columns
            )
        except CrmError as exc:
            await self._finish(job, "FAILED", f"could not resume the import: {exc.message}")
            return
        self._spawn(job, rows, resuming=True)

    async def run_to_end(
        self,
        file_id: str,
        table_format: TableFormat,
        mapping: Mapping[str, ImportField] | None,
        update_existing: bool,
        custom_columns: Mapping[str, str] | None = None,
    ) -> ImportJob:
        """`start`, then wait for the job (benchmarks and scripts)."""
        job = await self.start(file_id, table_format, mapping, update_existing, custom_columns)
        await wait_for_job(job.id)
        return await self.job(job.id)

    async def job(self, job_id: str) -> ImportJob:
        job = await self._jobs.get(job_id)
        if job is None or (
            job.actor_id != self._principal.user_id and not self._principal.is_admin
        ):
            raise NotFound("no such import job", field="id")
        return job

    async def _heartbeat(self, job: ImportJob, lost: asyncio.Event) -> None:
        """Keeps the job's heartbeat fresh while a batch runs; sets ``lost`` if another
        process has taken the job over."""
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())
            try:
                async with _job_lock(job.id):
                    held = await self._jobs.renew(job)
            except Exception as exc:  # the database may be away a moment: try again
                log.warning("import heartbeat failed", extra={"job": job.id, "error": repr(exc)})
                continue
            if not held:
                lost.set()
                return

    async def _save(self, job: ImportJob, events: Sequence[CloudEvent] = ()) -> bool:
        # One write to the job document at a time from this process (heartbeat or progress):
        # on FerretDB two concurrent updates of one document can lose one of them.
        async with _job_lock(job.id):
            return await self._jobs.save_progress(job, events)

    async def _run(self, job: ImportJob, rows: list[ImportRow], resuming: bool) -> None:
        lost = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(job, lost), name=f"heartbeat-{job.id}")
        try:
            await self._run_batches(job, rows, resuming, lost)
        finally:
            heartbeat.cancel()
            _job_locks.pop(job.id, None)

    async def _run_batches(
        self, job: ImportJob, rows: list[ImportRow], resuming: bool, lost: asyncio.Event
    ) -> None:
        try:
            existing = await self._customers.name_keys()
            # Rows of the batch that was under way when the last process died may be in
            # already: those it inserted count as created, not as duplicates.
            ours = await self._customers.name_keys_of_import(job.id) if resuming else set()
            ours -= {row.profile.name_key for row in rows[: job.rows_done]}  # counted already
            if ours:
                await self._announce_again(ours)
            for start in range(job.rows_done, len(rows), BATCH):
                if lost.is_set():
                    log.warning("import job taken over by another process", extra={"job": job.id})
                    return
                batch = rows[start : start + BATCH]
                await self._import_batch(job, batch, existing, ours)
                job.rows_done = start + len(batch)
                job.processed = min(job.total, job.processed + len(batch))
                if not await self._save(job):
                    log.warning("import job taken over by another process", extra={"job": job.id})
                    return
        except EventsNotRecorded:
            # Customers are in, their events are not: leave the job running; its heartbeat
            # stops, and the process that resumes it announces the batch again.
            log.exception("import paused: events not recorded", extra={"job_id": job.id})
            return
        except Exception as exc:
            log.exception("import failed", extra={"job_id": job.id})
            message = exc.message if isinstance(exc, CrmError) else "internal error"
            await self._finish(job, "FAILED", message)
        else:
            await self._finish(job, "DONE")

    async def _finish(self, job: ImportJob, status: str, error: str | None = None) -> None:
        job.status = status
        if error is not None:
            job.errors.append({"row": 0, "field": "", "message": error})
        finished = CustomersImported(
            job_id=job.id,
            actor_id=job.actor_id,
            total=job.total,
            created=job.created,
            updated=job.updated,
            duplicates=job.duplicates,
            failed=job.failed,
            finished_at=self._clock(),
        )
        # One summary per job, under one id: should two processes ever both finish it (a
        # take-over overlapping a slow owner), consumers see one event.
        event = self._event(finished, job.id).with_id(
            deterministic_event_id("customer.import-finished", job.tenant_id, job.id)
        )
        await self._save(job, [event])
        self._notify()

    async def _import_batch(
        self,
        job: ImportJob,
        rows: Sequence[ImportRow],
        existing: dict[str, str],
        ours: set[str],
    ) -> None:
        principal = self._principal
        now = self._clock()
        fresh: list[ImportRow] = []
        for row in rows:
            key = row.profile.name_key
            if key in ours:  # inserted by this job before a restart
                ours.discard(key)
                job.created += 1
                continue
            if key in existing:
                if job.update_existing and existing[key]:
                    await self._update_existing(job, existing[key], row)
                else:
                    job.duplicates += 1
                continue
            existing[key] = ""  # later rows of the same name are duplicates of this one
            fresh.append(row)

        thresholds = await self._thresholds()

        def builder(row: ImportRow) -> Callable[[str], tuple[Customer, list[CloudEvent]]]:
            customer_id = str(uuid.uuid4())
            contacts: tuple[Contact, ...] = ()
            if row.contact is not None:
                contacts = (dataclasses.replace(row.contact, id=str(uuid.uuid4())),)

            def build(number: str) -> tuple[Customer, list[CloudEvent]]:
                customer = Customer(
                    id=customer_id,
                    tenant_id=principal.tenant_id,
                    number=number,
                    profile=row.profile,
                    status=CustomerStatus.PENDING_REVIEW,
                    owner_id=principal.user_id,
                    team=principal.team,
                    contacts=contacts,
                    history=(),
                    created_at=now,
                    updated_at=now,
                    custom_fields=row.custom_fields,
                )
                customer = with_derived(customer, thresholds)
                return customer, [self._created_event(customer)]

            return build

        results = await self._customers.insert_numbered_many(
            await self._local_today(now), [builder(r) for r in fresh], import_job_id=job.id
        )
        for row, result in zip(fresh, results, strict=True):
            if result is None:
                job.duplicates += 1
            else:
                existing[row.profile.name_key] = result.id
                job.created += 1
        self._notify()

    def _created_event(self, customer: Customer) -> CloudEvent:
        """An imported customer's ``customer.created``, under an id derived from the customer:
        announced again by a resumed import, it is the same event."""
        created = CustomerCreated(
            customer_id=customer.id,
            number=customer.number,
            name=customer.name,
            status=customer.status.value,
            owner_id=customer.owner_id,
            team=customer.team,
            created_at=customer.created_at,
            customer_type=customer.profile.customer_type.name,
            region_province=getattr(customer.profile.region, "province", None),
            region_city=getattr(customer.profile.region, "city", None),
            source_channel=getattr(customer.profile.source, "name", None),
            state=copied_state(customer),
            contact_ids=[c.id for c in customer.contacts],
            purchase_profile=purchase_profile(customer),
        )
        return self._event(created, customer.id).with_id(
            deterministic_event_id("customer.imported-created", customer.tenant_id, customer.id)
        )

    async def _announce_again(self, name_keys: set[str]) -> None:
        """The batch under way when the last process died: its customers went in before their
        events (`events_after_write`), so announce those that landed again (same ids: at
        worst a duplicate, which consumers absorb)."""
        events: dict[str, list[CloudEvent]] = {}
        for key in name_keys:
            found = await self._customers.find_by_name_key(key)
            customer = await self._customers.get(found.id) if found else None
            if customer is not None:
                events[customer.id] = [self._created_event(customer)]
        await self._customers.announce_imported(events)
        self._notify()

    async def _update_existing(self, job: ImportJob, customer_id: str, row: ImportRow) -> None:
        before = await self._customers.get(customer_id)
        if before is None or before.is_tombstone or before.profile.name_key != row.profile.name_key:
            job.duplicates += 1  # a stale name claim: the name is taken, but not by this one
            return
        try:
            permissions.can_write(self._principal, before)
        except CrmError:
            job.duplicates += 1  # not theirs to change: reported, left alone
            return
        now = self._clock()
        # Empty cells keep what the customer has; the name stays as it is.
        given = {
            name: getattr(row.profile, name)
            for name in PROFILE_FIELDS
            if name not in ("name", "customer_type")
            and getattr(row.profile, name) not in (None, (), "")
        }
        profile = dataclasses.replace(before.profile, **given)
        history = profile_changes(before.profile, profile, actor_id=job.actor_id, at=now)
        # Non-empty custom field cells replace the customer's values (checked when parsed).
        custom_fields = {**before.custom_fields, **row.custom_fields}
        history += [
            HistoryEntry(
                now,
                job.actor_id,
                f"customFields.{key}",
                before.custom_fields.get(key),
                custom_fields.get(key),
            )
            for key in value_changes(before.custom_fields, custom_fields)
        ]
        if not history:
            job.duplicates += 1
            return
        after = dataclasses.replace(
            before,
            profile=profile,
            custom_fields=custom_fields,
            version=before.version + 1,
            updated_at=now,
            history=(*(before.history or ()), *history),
        )
        after = with_derived(after, await self._thresholds())
        event = CustomerUpdated(
            customer_id=before.id,
            changed_fields=[h.field for h in history],
            actor_id=job.actor_id,
            updated_at=now,
            state=copied_state(after),
            purchase_profile=purchase_profile(after),
        )
        if await self._customers.save(before, after, history, [self._event(event, before.id)]):
            job.updated += 1
        else:
            job.failed += 1

    async def export(
        self, customers: CustomerService, query: ListQuery, table_format: TableFormat
    ) -> ExportResult:
        """The filtered list (as the caller sees it: masking applies) as a CSV/XLSX file."""
        from crm_common.pagination import PageRequest

        rows: list[list[object]] = []
        after: str | None = None
        while True:
            page = await customers.list_customers(
                query, PageRequest(first=EXPORT_PAGE, after=after)
            )
            for customer, _ in page.items:
                rows.append(export_row(customer))
            if len(rows) > EXPORT_MAX_ROWS:
                raise BadUserInput(f"at most {EXPORT_MAX_ROWS} rows per export; filter more")
            if not page.has_next_page or not page.items:
                break
            after = page.items[-1][1]
        data = write_table(EXPORT_HEADER, rows, table_format)
        zone = await self._zone_of(self._principal.tenant_id) if self._zone_of else UTC_ZONE
        stamp = self._clock().astimezone(zone).strftime("%Y%m%d%H%M%S")  # the tenant's time
        if table_format == TableFormat.CSV:
            name, content_type = f"customers-{stamp}.csv", "text/csv"
        else:
            name, content_type = f"customers-{stamp}.xlsx", XLSX
        stored = await self._files.save_generated(FileKind.EXPORT, name, content_type, data)
        return ExportResult(stored, len(rows))


EXPORT_HEADER = [
    "number", "name", "status", "customer_type", "industry", "source", "province", "city",
    "address", "founded_on", "employees", "revenue_band", "tags", "risk_tags", "needs",
    "urgency", "budget_min_minor", "budget_max_minor", "budget_currency", "lat", "lng",
    "owner_id", "team", "contact_name", "contact_phone", "contact_email", "created_at",
]  # fmt: skip


def export_row(customer: Customer) -> list[object]:
    p = customer.profile
    primary = next((c for c in customer.contacts if c.is_primary), None)
    plain: dict[str, Any] = to_plain(p)
    return [
        customer.number, p.name, customer.status.value, p.customer_type.value, p.industry or "",
        p.source.value if p.source else "", p.region.province if p.region else "",
        (p.region.city or "") if p.region else "", p.address or "", plain["founded_on"] or "",
        p.size.employees if p.size and p.size.employees is not None else "",
        p.size.revenue_band.value if p.size and p.size.revenue_band else "", ";".join(p.tags),
        ";".join(t.value for t in p.risk_tags), p.needs or "", p.urgency.value if p.urgency else "",
        str(p.budget.min_minor) if p.budget else "", str(p.budget.max_minor) if p.budget else "",
        p.budget.currency if p.budget else "", p.geo.lat if p.geo else "",
        p.geo.lng if p.geo else "", customer.owner_id, customer.team or "",
        primary.name if primary else "", (primary.phone or "") if primary else "",
        (primary.email or "") if primary else "", customer.created_at.isoformat(),
    ]  # fmt: skip


async def wait_for_job(job_id: str) -> None:
    """Until this process's task for the job (if any) has finished."""
    await asyncio.gather(*[t for t in _running if t.get_name() == f"import-{job_id}"])


async def resume_stale_jobs(
    stale: StaleJobs,
    imports_for: Callable[[Principal], ImportService],
    *,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> list[str]:
    """Take over import jobs whose process stopped renewing them and resume each one as the
    user who started it; returns the ids this process took. Only the process whose claim
    (a unique insert of the job's next attempt) succeeds resumes a job."""
    at = now or utc_now()
    taken: list[str] = []
    for job in await stale.stale(at - stale_after):
        if not await stale.claim(job, PROCESS_LEASE, at, abandoned_before=at - stale_after):
            continue
        job.lease, job.heartbeat_at = PROCESS_LEASE, at
        principal = Principal(
            job.actor_id, job.tenant_id, roles=frozenset(job.actor_roles), team=job.actor_team
        )
        log.info("resuming import job", extra={"job_id": job.id, "rows_done": job.rows_done})
        await imports_for(principal).resume(job)
        taken.append(job.id)
    return taken
