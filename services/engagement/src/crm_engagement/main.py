"""Composition root of the engagement service."""

from __future__ import annotations

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tracing import setup_tracing
from crm_engagement.adapters.events import SUBSCRIBED_TOPICS, handlers
from crm_engagement.adapters.mongo import (
    INDEXES,
    INTERACTIONS,
    MongoCustomerRefRepository,
    MongoInteractionRepository,
)
from crm_engagement.api.schema import schema
from crm_engagement.service.interactions import InteractionService


class Settings(ServiceSettings):
    service_name: str = "engagement"
    port: int = 4002


class Services:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def interactions(self, principal: Principal) -> InteractionService:
        db, tenant = self._runtime.db, principal.tenant_id
        return InteractionService(
            principal,
            MongoCustomerRefRepository(db, tenant),
            MongoInteractionRepository(db, tenant),
            self._runtime.outbox_signal.notify,
        )


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings).with_indexes(INDEXES).with_outbox([INTERACTIONS])
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
