"""The customer profile's service summary: counts over what the principal may see."""

from __future__ import annotations

from dataclasses import replace

from crm_common.auth import Principal, Role
from crm_service_desk.domain.permissions import Visibility, may_see_customer, task_visibility
from crm_service_desk.service.ports import (
    CustomerRefRepository,
    ServiceSummary,
    ServiceSummaryReader,
)


class SummaryService:
    def __init__(
        self, principal: Principal, reader: ServiceSummaryReader, customers: CustomerRefRepository
    ) -> None:
        self._principal = principal
        self._reader = reader
        self._customers = customers

    async def for_customer(self, customer_id: str) -> ServiceSummary:
        """The whole customer for who may see it (its owner, their team, the desk); the
        records of their team or their own tasks otherwise."""
        view = task_visibility(self._principal)
        if not view.everything and may_see_customer(
            self._principal, await self._customers.get(customer_id)
        ):
            view = replace(view, everything=True)
        # Satisfaction is the whole desk's business: managers read every survey (as `surveys`).
        surveys = (
            Visibility(everything=True) if self._principal.has_role(Role.SERVICE_MANAGER) else view
        )
        return await self._reader.summary(customer_id, view, surveys)
