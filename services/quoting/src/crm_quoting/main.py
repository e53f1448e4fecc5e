"""Composition root of the quoting service: wires settings, storage and the API."""

from __future__ import annotations

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.coordination import Lease
from crm_common.customers.contacts import GraphQLContactDirectory
from crm_common.customers.copies import CustomerCopy
from crm_common.events.topics import service_topic
from crm_common.live import LiveFeed
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tenants import TENANT_SETTINGS_INDEXES, TenantZones
from crm_common.tracing import setup_tracing
from crm_quoting.adapters.email import MongoQuoteMailer
from crm_quoting.adapters.events import SUBSCRIBED_TOPICS, consumer_handlers
from crm_quoting.adapters.mongo import (
    INDEXES,
    OUTBOX_COLLECTIONS,
    MongoCatalogueRepository,
    MongoOpportunityRepository,
    MongoOpportunityStallStore,
    MongoQuoteExpiryStore,
    MongoQuoteRepository,
)
from crm_quoting.adapters.pdf import ReportLabQuoteRenderer
from crm_quoting.api.schema import schema
from crm_quoting.service.catalogue import CatalogueService
from crm_quoting.service.expiry import LEASE_NAME as EXPIRY_LEASE
from crm_quoting.service.expiry import QuoteExpiryJob
from crm_quoting.service.opportunities import OpportunityService
from crm_quoting.service.quotes import QuoteService
from crm_quoting.service.stall import LEASE_NAME as STALL_LEASE
from crm_quoting.service.stall import OpportunityStallJob


class Settings(ServiceSettings):
    service_name: str = "quoting"
    port: int = 4003
    quote_expiry_interval_s: float = 60.0
    opportunity_stall_interval_s: float = 60.0


class Services:
    """Builds the use cases for one request's principal (repositories bound to its tenant)."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        contacts: GraphQLContactDirectory,
        zones: TenantZones | None = None,
    ) -> None:
        self._runtime = runtime
        # The tenants' time zones, from this service's copy of their settings (cached 30 s).
        self.zones = zones or TenantZones(runtime.db)
        self._renderer = ReportLabQuoteRenderer()
        self._contacts = contacts

    def opportunities(self, principal: Principal) -> OpportunityService:
        db, tenant = self._runtime.db, principal.tenant_id
        return OpportunityService(
            principal,
            MongoOpportunityRepository(db, tenant),
            CustomerCopy(db, tenant),
            self._runtime.outbox_signal.notify,
            settings=MongoCatalogueRepository(db, tenant),
        )

    def catalogue(self, principal: Principal) -> CatalogueService:
        db, tenant = self._runtime.db, principal.tenant_id
        return CatalogueService(
            principal, MongoCatalogueRepository(db, tenant), MongoOpportunityRepository(db, tenant)
        )

    def quotes(self, principal: Principal) -> QuoteService:
        db, tenant = self._runtime.db, principal.tenant_id
        return QuoteService(
            principal,
            MongoQuoteRepository(db, tenant),
            MongoOpportunityRepository(db, tenant),
            MongoCatalogueRepository(db, tenant),
            self.opportunities(principal),
            self._renderer,
            self._runtime.outbox_signal.notify,
            mailer=MongoQuoteMailer(db, tenant, self._runtime.email_signal),
            contacts=self._contacts,
            customers=CustomerCopy(db, tenant),
            zone_of=self.zones.zone_of,
        )

    def live_feed(self) -> LiveFeed:
        assert self._runtime.live is not None
        return self._runtime.live


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = (
        ServiceRuntime(settings)
        .with_indexes(INDEXES)
        .with_indexes(TENANT_SETTINGS_INDEXES)
        .with_outbox(OUTBOX_COLLECTIONS)
        .with_email()
        # quoteChanged: every replica sees every quote event.
        .with_live_feed([service_topic("quoting")])
    )
    contacts = GraphQLContactDirectory(settings.customer_graphql_url_list)
    # The customer copy: who sees which opportunities (the customer's current owner/team), and
    # createOpportunity refuses customers this tenant does not have.
    zones = TenantZones(runtime.db, settings.tenant_settings_cache_ttl_s)
    runtime.with_consumer(SUBSCRIBED_TOPICS, consumer_handlers(runtime.db, zones))
    expiry = QuoteExpiryJob(
        MongoQuoteExpiryStore(runtime.db),
        runtime.outbox_signal.notify,
        settings.quote_expiry_interval_s,
        # One replica expires at a time; deterministic event ids make a handover harmless.
        lease=Lease(runtime.db, EXPIRY_LEASE),
        # A quote expires when its tenant's local date passes its validity.
        zone_of=zones.zone_of,
    )
    runtime.outbox_signal.listen(expiry.wake)
    # Assessed opportunities without decision progress for the tenant's period: one replica
    # announces them (deterministic event ids, like expiry).
    stall = OpportunityStallJob(
        MongoOpportunityStallStore(runtime.db),
        runtime.outbox_signal.notify,
        settings.opportunity_stall_interval_s,
        lease=Lease(runtime.db, STALL_LEASE),
    )
    runtime.outbox_signal.listen(stall.wake)

    async def start_expiry(_: web.Application) -> None:
        await expiry.start()
        await stall.start()

    async def stop_expiry(_: web.Application) -> None:
        await stall.stop()
        await expiry.stop()

    services = Services(runtime, contacts, zones)
    app = create_app(
        settings,
        schema(),
        services,
        verifier=TokenVerifier(settings),
        tenant_settings=zones,
        readiness=runtime.readiness(),
        # Indexes first; the job stops before the runtime closes the client.
        on_startup=[runtime.startup, start_expiry],
        on_cleanup=[stop_expiry, contacts.close, runtime.cleanup],
    )
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
