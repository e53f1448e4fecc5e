"""Typed access to the request context of the engagement subgraph."""

from __future__ import annotations

import strawberry

from crm_common.auth import Principal
from crm_engagement.service.ports import EngagementServices


def services_of(info: strawberry.Info) -> EngagementServices:
    services: EngagementServices = info.context.services
    return services


def principal_of(info: strawberry.Info) -> Principal:
    principal: Principal = info.context.require_principal()
    return principal
