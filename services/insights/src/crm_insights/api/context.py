"""Typed access to the request context of the insights subgraph."""

from __future__ import annotations

import strawberry

from crm_common.auth import Principal
from crm_insights.service.ports import InsightsServices


def services_of(info: strawberry.Info) -> InsightsServices:
    services: InsightsServices = info.context.services
    return services


def principal_of(info: strawberry.Info) -> Principal:
    principal: Principal = info.context.require_principal()
    return principal
