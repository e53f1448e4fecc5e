"""Typed access to the request context of the service-desk subgraph."""

from __future__ import annotations

import strawberry

from crm_common.auth import Principal
from crm_service_desk.service.ports import ServiceDeskServices


def services_of(info: strawberry.Info) -> ServiceDeskServices:
    services: ServiceDeskServices = info.context.services
    return services


def principal_of(info: strawberry.Info) -> Principal:
    principal: Principal = info.context.require_principal()
    return principal
