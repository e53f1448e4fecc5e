"""Composition root of the insights service: wires settings, storage, events and the API."""

from __future__ import annotations

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tracing import setup_tracing
from crm_insights.adapters.events import SUBSCRIBED_TOPICS, handlers
from crm_insights.adapters.mongo import INDEXES, MongoCustomerCountRepository
from crm_insights.api.schema import schema
from crm_insights.service.reports import ReportService


class Settings(ServiceSettings):
    service_name: str = "insights"
    port: int = 4005


class Services:
    """Builds the use cases for one request's principal (repositories bound to its tenant)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def reports(self, principal: Principal) -> ReportService:
        return ReportService(
            principal, MongoCustomerCountRepository(self._runtime.db, principal.tenant_id)
        )


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings).with_indexes(INDEXES)
    runtime.with_consumer(SUBSCRIBED_TOPICS, handlers(runtime.db))
    return create_app(
        settings,
        schema(),
        Services(runtime),
        verifier=TokenVerifier(settings),
        readiness=runtime.readiness(),
        on_startup=[runtime.startup],
        on_cleanup=[runtime.cleanup],
    )


def main() -> None:
    settings = Settings()
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
