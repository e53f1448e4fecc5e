"""Typed access to the request context of the quoting subgraph."""

from __future__ import annotations

import strawberry

from crm_common.auth import Principal
from crm_quoting.service.ports import QuotingServices


def services_of(info: strawberry.Info) -> QuotingServices:
    services: QuotingServices = info.context.services
    return services


def principal_of(info: strawberry.Info) -> Principal:
    principal: Principal = info.context.require_principal()
    return principal
