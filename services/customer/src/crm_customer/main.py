"""Composition root of the customer service: wires settings, storage, events and the API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.coordination import Lease
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tenants import TENANT_SETTINGS_INDEXES, TenantZones
from crm_common.tracing import setup_tracing
from crm_customer.adapters.cadence import CADENCE_INDEXES, CUSTOMER_CADENCE, MongoCadenceRepository
from crm_customer.adapters.custom_fields import CUSTOM_FIELD_INDEXES, MongoCustomFieldRepository
from crm_customer.adapters.events import SUBSCRIBED_TOPICS, handlers
from crm_customer.adapters.files import GridFSFileStore, GridFSPurgeStore
from crm_customer.adapters.jobs import (
    IMPORT_JOBS,
    JOB_INDEXES,
    MongoImportJobRepository,
    MongoStaleJobs,
)
from crm_customer.adapters.migration import migrate_derived, pending_derived
from crm_customer.adapters.mongo import (
    CUSTOMERS,
    INDEXES,
    MongoCustomerRepository,
    ensure_query_indexes,
)
from crm_customer.adapters.tenant_settings import MongoTenantSettingsRepository
from crm_customer.adapters.tiers import MongoTierThresholds
from crm_customer.api.files_http import register_file_routes
from crm_customer.api.schema import schema
from crm_customer.domain.customer import Customer
from crm_customer.service.cadence import CadenceService, carry_on_merge
from crm_customer.service.customers import CustomerService
from crm_customer.service.file_purge import LEASE_NAME as FILE_PURGE_LEASE
from crm_customer.service.file_purge import FilePurgeJob
from crm_customer.service.files import FileService
from crm_customer.service.imports import ImportService, resume_stale_jobs
from crm_customer.service.tenant_settings import TenantSettingsService

log = logging.getLogger(__name__)


class Settings(ServiceSettings):
    service_name: str = "customer"
    port: int = 4001
    # How often to look for import jobs left RUNNING by a process that died.
    import_resume_interval_s: float = 30.0
    # How long a deleted customer file keeps its bytes before they are purged (the metadata
    # and history stay), and how often the purge loop sweeps.
    file_purge_retention_days: float = 30.0
    file_purge_interval_s: float = 300.0

    @property
    def file_retention(self) -> timedelta:
        return timedelta(days=self.file_purge_retention_days)


class Services:
    """Builds the use cases for one request's principal (repositories bound to its tenant)."""

    def __init__(self, runtime: ServiceRuntime, file_retention: timedelta) -> None:
        self._runtime = runtime
        self._file_retention = file_retention
        # The tenant's zone and role permissions, read from this service's own settings
        # documents (cached TENANT_SETTINGS_CACHE_TTL_S, 30 s).
        self.zones = TenantZones(runtime.db, runtime.settings.tenant_settings_cache_ttl_s)

    def public_url(self, path: str) -> str:
        return self._runtime.settings.public_url(path)

    def customers(self, principal: Principal) -> CustomerService:
        db, tenant = self._runtime.db, principal.tenant_id
        notify = self._runtime.outbox_signal.notify

        async def carry_cadence(kept: Customer, merged: Customer, now: datetime) -> None:
            cadences = MongoCadenceRepository(db, tenant)
            if await carry_on_merge(tenant, kept, merged, cadences, principal.user_id, now):
                notify()

        return CustomerService(
            principal,
            MongoCustomerRepository(db, tenant),
            self._runtime.outbox_signal.notify,
            custom_fields=MongoCustomFieldRepository(db, tenant),
            files=GridFSFileStore(db, tenant),
            tiers=MongoTierThresholds(db, tenant),
            zone_of=self.zones.zone_of,
            on_merge=carry_cadence,
        )

    def cadence(self, principal: Principal) -> CadenceService:
        db, tenant = self._runtime.db, principal.tenant_id
        return CadenceService(
            principal,
            MongoCadenceRepository(db, tenant),
            MongoCustomerRepository(db, tenant),
            self._runtime.outbox_signal.notify,
        )

    def files(self, principal: Principal) -> FileService:
        db, tenant = self._runtime.db, principal.tenant_id
        return FileService(
            principal,
            MongoCustomerRepository(db, tenant),
            GridFSFileStore(db, tenant),
            notify_outbox=self._runtime.outbox_signal.notify,
            retention=self._file_retention,
        )

    def imports(self, principal: Principal) -> ImportService:
        db, tenant = self._runtime.db, principal.tenant_id
        return ImportService(
            principal,
            MongoCustomerRepository(db, tenant),
            MongoImportJobRepository(db, tenant),
            self.files(principal),
            self._runtime.outbox_signal.notify,
            custom_fields=MongoCustomFieldRepository(db, tenant),
            tiers=MongoTierThresholds(db, tenant),
            zone_of=self.zones.zone_of,
        )

    def tenant_settings(self, principal: Principal) -> TenantSettingsService:
        return TenantSettingsService(
            principal,
            MongoTenantSettingsRepository(self._runtime.db, principal.tenant_id),
            self._runtime.outbox_signal.notify,
            on_change=self.zones.forget,
        )


class ImportResumer:
    """Resumes import jobs a dead process left behind: once at startup, then every
    ``interval_s`` (another replica may die while this one runs).

    Only the holder of the ``customer.import-resume`` lease looks; what makes a job resume in
    exactly one process is the claim by unique insert (`MongoStaleJobs.claim`), so two
    replicas overlapping during a lease handover still cannot both resume it."""

    def __init__(self, runtime: ServiceRuntime, services: Services, interval_s: float) -> None:
        self._stale = MongoStaleJobs(runtime.db)
        self._services = services
        self._interval_s = interval_s
        self._lease = Lease(runtime.db, "customer.import-resume")
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                if await self._lease.held():
                    await resume_stale_jobs(self._stale, self._services.imports)
            except Exception:
                log.exception("resuming import jobs failed")
            await asyncio.sleep(self._interval_s)

    async def start(self, _: web.Application) -> None:
        self._task = asyncio.create_task(self._loop(), name="import-resumer")

    async def stop(self, _: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            await self._lease.release()


class DerivedMigration:
    """Normalises customers stored before the current derived fields (type from status,
    value tier, completeness) once after startup, in the background: the holder of the
    ``customer.derived-migration`` lease does it; the others wait until it is done (every
    write is conditional, so an overlap at a lease handover writes nothing twice)."""

    def __init__(self, runtime: ServiceRuntime, retry_s: float = 10.0) -> None:
        self._runtime = runtime
        self._lease = Lease(runtime.db, "customer.derived-migration")
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                if await self._lease.held():
                    await migrate_derived(self._runtime.db, self._runtime.outbox_signal.notify)
                    return
                if not await pending_derived(self._runtime.db):
                    return
            except Exception:
                log.exception("normalising customers failed; trying again")
            await asyncio.sleep(self._retry_s)

    async def start(self, _: web.Application) -> None:
        self._task = asyncio.create_task(self._run(), name="derived-migration")

    async def stop(self, _: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            await self._lease.release()


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = (
        ServiceRuntime(settings)
        .with_indexes(
            {
                **INDEXES,
                **JOB_INDEXES,
                **CUSTOM_FIELD_INDEXES,
                **CADENCE_INDEXES,
                **TENANT_SETTINGS_INDEXES,
            }
        )
        .with_outbox([CUSTOMERS, IMPORT_JOBS, CUSTOMER_CADENCE])
    )
    runtime.with_consumer(SUBSCRIBED_TOPICS, handlers(runtime.db, runtime.outbox_signal.notify))
    services = Services(runtime, settings.file_retention)

    async def query_indexes(_: web.Application) -> None:
        if not await ensure_query_indexes(runtime.db):
            log.info("FerretDB: query indexes left out (it would only maintain them)")

    resumer = ImportResumer(runtime, services, settings.import_resume_interval_s)
    migration = DerivedMigration(runtime)
    purge = FilePurgeJob(
        GridFSPurgeStore(runtime.db),
        settings.file_retention,
        settings.file_purge_interval_s,
        lease=Lease(runtime.db, FILE_PURGE_LEASE),
    )
    verifier = TokenVerifier(settings)
    app = create_app(
        settings,
        schema(),
        services,
        verifier=verifier,
        tenant_settings=services.zones,
        readiness=runtime.readiness(),
        on_startup=[runtime.startup, query_indexes, resumer.start, migration.start, purge.start],
        on_cleanup=[purge.stop, migration.stop, resumer.stop, runtime.cleanup],
    )
    register_file_routes(app, services, verifier)
    return app


def main() -> None:
    settings = Settings()
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
