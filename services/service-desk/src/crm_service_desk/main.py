"""Composition root of the service-desk service: wires settings, storage, events and the API."""

from __future__ import annotations

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.coordination import Lease
from crm_common.customers.contacts import GraphQLContactDirectory
from crm_common.events.topics import service_topic
from crm_common.live import LiveFeed
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tenants import TENANT_SETTINGS_INDEXES, TenantZones
from crm_common.tracing import setup_tracing
from crm_service_desk.adapters.email import MongoSurveyMailer
from crm_service_desk.adapters.events import SUBSCRIBED_TOPICS, consumer_handlers
from crm_service_desk.adapters.improvement import INDEXES as TASK_INDEXES
from crm_service_desk.adapters.improvement import OUTBOX_COLLECTIONS as TASK_OUTBOX
from crm_service_desk.adapters.improvement import (
    MongoImprovementTaskRepository,
    MongoOverdueTaskStore,
    MongoServiceSummary,
)
from crm_service_desk.adapters.mongo import (
    INDEXES,
    OUTBOX_COLLECTIONS,
    MongoArticleRepository,
    MongoCustomerRefs,
    MongoDeskSettingsRepository,
    MongoOrderRepository,
    MongoSlaBreachStore,
    MongoSurveyRepository,
    MongoSurveyTokens,
    MongoTicketRepository,
)
from crm_service_desk.api.http import RESPOND_PATH, add_survey_routes
from crm_service_desk.api.schema import schema
from crm_service_desk.service.articles import ArticleService
from crm_service_desk.service.desk import DeskService
from crm_service_desk.service.improvement import LEASE_NAME as TASK_OVERDUE_LEASE
from crm_service_desk.service.improvement import ImprovementTaskService, OverdueTaskMonitor
from crm_service_desk.service.orders import OrderService
from crm_service_desk.service.sla_monitor import LEASE_NAME as SLA_LEASE
from crm_service_desk.service.sla_monitor import SlaMonitor
from crm_service_desk.service.summary import SummaryService
from crm_service_desk.service.surveys import PublicSurveyService, SurveyService
from crm_service_desk.service.tickets import TicketService


class Settings(ServiceSettings):
    service_name: str = "service-desk"
    port: int = 4004
    # How often each replica looks for SLA breaches (seconds).
    # The safety sweep of the SLA monitor (it otherwise sleeps until the next due time).
    sla_scan_interval_s: float = 5.0
    # The safety sweep of the improvement-task overdue monitor (seconds).
    task_overdue_scan_interval_s: float = 30.0
    # Where customers answer surveys; defaults to the public base URL (the gateway, which
    # passes /surveys/respond on to this service).
    survey_response_url: str | None = None

    @property
    def survey_url(self) -> str:
        return self.survey_response_url or self.public_url(RESPOND_PATH)


class Services:
    """Builds the use cases for one request's principal (repositories bound to its tenant)."""

    def __init__(
        self, runtime: ServiceRuntime, settings: Settings, contacts: GraphQLContactDirectory
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._contacts = contacts

    def tickets(self, principal: Principal) -> TicketService:
        db, tenant = self._runtime.db, principal.tenant_id
        return TicketService(
            principal,
            MongoTicketRepository(db, tenant),
            MongoCustomerRefs(db, tenant),
            MongoDeskSettingsRepository(db, tenant),
            self._runtime.outbox_signal.notify,
        )

    def orders(self, principal: Principal) -> OrderService:
        db, tenant = self._runtime.db, principal.tenant_id
        return OrderService(
            principal,
            MongoOrderRepository(db, tenant),
            MongoCustomerRefs(db, tenant),
            self._runtime.outbox_signal.notify,
        )

    def surveys(self, principal: Principal) -> SurveyService:
        db, tenant = self._runtime.db, principal.tenant_id
        return SurveyService(
            principal,
            MongoSurveyRepository(db, tenant),
            MongoCustomerRefs(db, tenant),
            self._settings.survey_url,
            mailer=MongoSurveyMailer(db, tenant, self._runtime.email_signal),
            contacts=self._contacts,
            notify_outbox=self._runtime.outbox_signal.notify,
        )

    def improvement_tasks(self, principal: Principal) -> ImprovementTaskService:
        db, tenant = self._runtime.db, principal.tenant_id
        return ImprovementTaskService(
            principal,
            MongoImprovementTaskRepository(db, tenant),
            MongoCustomerRefs(db, tenant),
            MongoDeskSettingsRepository(db, tenant),
            self._runtime.outbox_signal.notify,
        )

    def service_summary(self, principal: Principal) -> SummaryService:
        db, tenant = self._runtime.db, principal.tenant_id
        return SummaryService(
            principal, MongoServiceSummary(db, tenant), MongoCustomerRefs(db, tenant)
        )

    def articles(self, principal: Principal) -> ArticleService:
        db, tenant = self._runtime.db, principal.tenant_id
        return ArticleService(
            principal,
            MongoArticleRepository(db, tenant),
            MongoTicketRepository(db, tenant),
            self._runtime.outbox_signal.notify,
        )

    def desk(self, principal: Principal) -> DeskService:
        return DeskService(
            principal, MongoDeskSettingsRepository(self._runtime.db, principal.tenant_id)
        )

    def public_surveys(self) -> PublicSurveyService:
        return PublicSurveyService(MongoSurveyTokens(self._runtime.db))

    def live_feed(self) -> LiveFeed:
        assert self._runtime.live is not None
        return self._runtime.live


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = (
        ServiceRuntime(settings)
        .with_indexes({**INDEXES, **TASK_INDEXES})
        .with_indexes(TENANT_SETTINGS_INDEXES)
        .with_outbox([*OUTBOX_COLLECTIONS, *TASK_OUTBOX])
        .with_email()
        # ticketChanged: every replica sees every ticket event.
        .with_live_feed([service_topic("servicedesk")])
    )
    contacts = GraphQLContactDirectory(settings.customer_graphql_url_list)
    db, notify = runtime.db, runtime.outbox_signal.notify
    # The tenant's settings copy (crm_common.tenants): its time zone for local dates, its role
    # permissions for every request (the applying replica forgets its cached entry at once).
    zones = TenantZones(db, settings.tenant_settings_cache_ttl_s)
    runtime.with_consumer(
        SUBSCRIBED_TOPICS, consumer_handlers(db, notify, settings.survey_url, zones)
    )
    monitor = SlaMonitor(
        MongoSlaBreachStore(db),
        notify,
        settings.sla_scan_interval_s,
        # One replica scans at a time; the breach records make a handover overlap harmless.
        lease=Lease(db, SLA_LEASE),
    )
    runtime.outbox_signal.listen(monitor.wake)
    overdue = OverdueTaskMonitor(
        MongoOverdueTaskStore(db),
        notify,
        settings.task_overdue_scan_interval_s,
        lease=Lease(db, TASK_OVERDUE_LEASE),
    )
    runtime.outbox_signal.listen(overdue.wake)
    services = Services(runtime, settings, contacts)
    app = create_app(
        settings,
        schema(),
        services,
        verifier=TokenVerifier(settings),
        tenant_settings=zones,
        readiness=runtime.readiness(),
        # The monitor starts after the indexes exist and stops before the client closes.
        on_startup=[runtime.startup, monitor.start, overdue.start],
        on_cleanup=[monitor.stop, overdue.stop, contacts.close, runtime.cleanup],
    )
    add_survey_routes(app, services.public_surveys())
    # Open subscriptions end (with an error saying so) before in-flight requests are awaited.
    app.on_shutdown.append(services.live_feed().stop)
    return app


def main() -> None:
    settings = Settings()
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
