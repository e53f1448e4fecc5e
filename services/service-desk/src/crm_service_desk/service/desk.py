"""Per-tenant desk configuration: the SLA table (defaults + admin override) and departments."""

from __future__ import annotations

from crm_common.auth import Principal
from crm_common.errors import BadUserInput
from crm_service_desk.domain.permissions import can_configure, can_read
from crm_service_desk.domain.ticket import (
    SlaTarget,
    TicketPriority,
    clean_name,
    validate_sla_target,
)
from crm_service_desk.service.ports import DeskSettingsRepository


class DeskService:
    def __init__(self, principal: Principal, settings: DeskSettingsRepository) -> None:
        self._principal = principal
        self._settings = settings

    async def sla_table(self) -> dict[TicketPriority, SlaTarget]:
        can_read(self._principal)
        return await self._settings.sla_table()

    async def set_sla(self, targets: list[SlaTarget]) -> dict[TicketPriority, SlaTarget]:
        """Override the given priorities' rows; new tickets use them, open ones keep theirs."""
        can_configure(self._principal)
        if not targets:
            raise BadUserInput("give at least one row", field="input.targets")
        seen: set[TicketPriority] = set()
        for i, target in enumerate(targets):
            if target.priority in seen:
                raise BadUserInput("one row per priority", field=f"input.targets.{i}.priority")
            seen.add(target.priority)
            validate_sla_target(target, f"input.targets.{i}")
        await self._settings.set_sla(targets)
        return await self._settings.sla_table()

    async def departments(self) -> dict[str, str | None]:
        can_read(self._principal)
        return await self._settings.departments()

    async def set_department(self, name: str, lead_id: str | None) -> dict[str, str | None]:
        """Create or change a department; its lead receives the escalations of SLA breaches."""
        can_configure(self._principal)
        clean = clean_name(name, "input.name", required=True)
        assert clean is not None
        await self._settings.set_department(clean, clean_name(lead_id, "input.leadId"))
        return await self._settings.departments()
