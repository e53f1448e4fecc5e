"""Typed access to the request context of the customer subgraph."""

from __future__ import annotations

import strawberry

from crm_common.auth import Principal
from crm_customer.service.ports import CustomerServices


def services_of(info: strawberry.Info) -> CustomerServices:
    services: CustomerServices = info.context.services
    return services


def principal_of(info: strawberry.Info) -> Principal:
    principal: Principal = info.context.require_principal()
    return principal
