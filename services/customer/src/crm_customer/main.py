"""Composition root of the customer service: wires settings, storage, events and the API."""

from __future__ import annotations

from aiohttp import web

from crm_common.app import create_app, serve
from crm_common.auth import Principal, TokenVerifier
from crm_common.logging import setup_logging
from crm_common.runtime import ServiceRuntime
from crm_common.settings import ServiceSettings
from crm_common.tracing import setup_tracing
from crm_customer.adapters.custom_fields import CUSTOM_FIELD_INDEXES, MongoCustomFieldRepository
from crm_customer.adapters.events import SUBSCRIBED_TOPICS, handlers
from crm_customer.adapters.files import GridFSFileStore
from crm_customer.adapters.jobs import IMPORT_JOBS, JOB_INDEXES, MongoImportJobRepository
from crm_customer.adapters.mongo import CUSTOMERS, INDEXES, MongoCustomerRepository
from crm_customer.api.files_http import register_file_routes
from crm_customer.api.schema import schema
from crm_customer.service.customers import CustomerService
from crm_customer.service.files import FileService
from crm_customer.service.imports import ImportService


class Settings(ServiceSettings):
    service_name: str = "customer"
    port: int = 4001


class Services:
    """Builds the use cases for one request's principal (repositories bound to its tenant)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    def customers(self, principal: Principal) -> CustomerService:
        db, tenant = self._runtime.db, principal.tenant_id
        return CustomerService(
            principal,
            MongoCustomerRepository(db, tenant),
            self._runtime.outbox_signal.notify,
            custom_fields=MongoCustomFieldRepository(db, tenant),
        )

    def files(self, principal: Principal) -> FileService:
        db, tenant = self._runtime.db, principal.tenant_id
        return FileService(
            principal, MongoCustomerRepository(db, tenant), GridFSFileStore(db, tenant)
        )

    def imports(self, principal: Principal) -> ImportService:
        db, tenant = self._runtime.db, principal.tenant_id
        return ImportService(
            principal,
            MongoCustomerRepository(db, tenant),
            MongoImportJobRepository(db, tenant),
            self.files(principal),
            self._runtime.outbox_signal.notify,
        )


def build_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    runtime = (
        ServiceRuntime(settings)
        .with_indexes({**INDEXES, **JOB_INDEXES, **CUSTOM_FIELD_INDEXES})
        .with_outbox([CUSTOMERS, IMPORT_JOBS])
    )
    runtime.with_consumer(SUBSCRIBED_TOPICS, handlers(runtime.db, runtime.outbox_signal.notify))
    services = Services(runtime)
    verifier = TokenVerifier(settings)
    app = create_app(
        settings,
        schema(),
        services,
        verifier=verifier,
        readiness=runtime.readiness(),
        on_startup=[runtime.startup],
        on_cleanup=[runtime.cleanup],
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
