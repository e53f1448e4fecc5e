"""Composition root of the insights service: wires settings, storage, events and the API."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.coordination import Lease
from crm_common.events.consumer import PROCESSED_COLLECTION
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tenants import TENANT_SETTINGS_INDEXES, TenantZones
from crm_common.tracing import setup_tracing
from crm_insights.adapters.batch_consumer import BatchEventConsumer
from crm_insights.adapters.mongo import (
    HEALTH,
    INDEXES,
    MongoHealthReader,
    MongoHealthStore,
    MongoReportQueries,
)
from crm_insights.adapters.observation import MongoObservationQueries
from crm_insights.adapters.potential import MongoPotentialQueries
from crm_insights.adapters.scheduler import ScoringScheduler
from crm_insights.adapters.service_reports import INDEXES as SERVICE_REPORT_INDEXES
from crm_insights.adapters.service_reports import MongoServiceReportQueries
from crm_insights.api.schema import schema
from crm_insights.service.health import HealthService
from crm_insights.service.observation import ObservationService
from crm_insights.service.potential import PotentialService
from crm_insights.service.projections import SUBSCRIBED_TOPICS
from crm_insights.service.reports import ReportService
from crm_insights.service.scoring import LEASE_NAME as SCORING_LEASE
from crm_insights.service.scoring import ScoringPass
from crm_insights.service.service_reports import ServiceReportService


class Settings(ServiceSettings):
    service_name: str = "insights"
    port: int = 4005
    # The timer of the scoring pass (time-based drivers); events wake it sooner.
    scoring_interval_s: float = 30.0


class Services:
    """Builds the use cases for one request's principal (repositories bound to its tenant)."""

    def __init__(self, runtime: ServiceRuntime, zones: TenantZones) -> None:
        self._runtime = runtime
        # The tenants' settings (crm_common.tenants): time zones for periods computed at query
        # time, role permissions for every request.
        self._zones = zones

    async def zone_of(self, tenant_id: str) -> ZoneInfo:
        return await self._zones.zone_of(tenant_id)

    def reports(self, principal: Principal) -> ReportService:
        # Reads over their own connection: reports need not wait for the consumer's batches.
        return ReportService(
            principal,
            MongoReportQueries(
                self._runtime.read_db, principal.tenant_id, zone_of=self._zones.zone_of
            ),
        )

    def service_reports(self, principal: Principal) -> ServiceReportService:
        return ServiceReportService(
            principal, MongoServiceReportQueries(self._runtime.read_db, principal.tenant_id)
        )

    def observation(self, principal: Principal) -> ObservationService:
        return ObservationService(
            principal, MongoObservationQueries(self._runtime.read_db, principal.tenant_id)
        )

    def health(self, principal: Principal) -> HealthService:
        return HealthService(
            principal, MongoHealthReader(self._runtime.read_db, principal.tenant_id)
        )

    def potential(self, principal: Principal) -> PotentialService:
        db = self._runtime.read_db
        return PotentialService(
            principal,
            MongoHealthReader(db, principal.tenant_id),
            MongoPotentialQueries(db, principal.tenant_id),
        )


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = (
        ServiceRuntime(settings)
        .with_indexes(
            {
                **INDEXES,
                **SERVICE_REPORT_INDEXES,
                **TENANT_SETTINGS_INDEXES,
                PROCESSED_COLLECTION: [],
            }
        )
        .with_outbox([HEALTH])
    )
    # Insights' own batching consumer (not runtime.with_consumer): a poll's records are
    # applied in a few round trips instead of several per event.
    # One cache of the tenants' settings, read over the read connection (requests need not
    # wait for the consumer's batches); the consumer forgets a tenant's entry as it applies.
    zones = TenantZones(runtime.read_db, settings.tenant_settings_cache_ttl_s)
    consumer = BatchEventConsumer(
        group=settings.service_name,
        topics=SUBSCRIBED_TOPICS,
        db=runtime.db,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        on_dirty=lambda: scheduler.notify(),
        zones=zones,
    )
    scoring = ScoringPass(
        MongoHealthStore(runtime.db),
        on_events=runtime.outbox_signal.notify,
        yield_to=consumer.wait_idle,
        # One replica scores at a time; deterministic event ids make a handover harmless.
        lease=Lease(runtime.db, SCORING_LEASE),
    )
    scheduler = ScoringScheduler(scoring, settings.scoring_interval_s)
    enabled = settings.kafka_consumer_enabled

    async def kafka_ready() -> bool:
        return await runtime.kafka_ready() and (consumer.connected or not enabled)

    async def start_consumer(_: web.Application) -> None:
        if enabled:
            await consumer.start()

    return create_app(
        settings,
        schema(),
        Services(runtime, zones),
        verifier=TokenVerifier(settings),
        tenant_settings=zones,
        readiness={**runtime.readiness(), "kafka": kafka_ready},
        on_startup=[runtime.startup, start_consumer, scheduler.start],
        on_cleanup=[scheduler.stop, consumer.stop, runtime.cleanup],
    )


def main() -> None:
    settings = Settings()
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
