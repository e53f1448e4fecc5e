"""Use cases of the tenant's settings: read them, change the time zone or a role's
permissions (``tenant:configure``, an admin by default), audit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.events.contracts.customer import RolePermissionOverride, TenantSettingsChanged
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_common.permissions import RoleOverrides, change_role, role_permissions
from crm_common.tenants import TenantSettings
from crm_customer.domain.tenant_settings import (
    SettingsChange,
    can_change_settings,
    can_read_history,
    can_read_role_permissions,
    clean_time_zone,
)

EVENT_SOURCE = "crm/customer"


class TenantSettingsRepository(Protocol):
    async def get(self) -> TenantSettings: ...

    async def save(
        self,
        before: TenantSettings,
        after: TenantSettings,
        change: SettingsChange,
        events: Sequence[CloudEvent],
    ) -> None:
        """Store ``after`` if the stored settings are still ``before`` (else `Conflict`),
        with ``change`` in the audit trail and ``events`` in the outbox."""
        ...

    async def history(self) -> list[SettingsChange]: ...


class TenantSettingsService:
    def __init__(
        self,
        principal: Principal,
        repository: TenantSettingsRepository,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._principal = principal
        self._repo = repository
        self._notify_outbox = notify_outbox
        self._clock = clock
        self._on_change = on_change

    async def get(self) -> TenantSettings:
        """Anyone of the tenant may read its settings (every date shown depends on them)."""
        return await self._repo.get()

    async def history(self) -> list[SettingsChange]:
        can_read_history(self._principal)
        return await self._repo.history()

    async def update(self, time_zone: str | None) -> TenantSettings:
        """Change the settings named (omitted ones stay); unchanged settings write nothing."""
        principal = self._principal
        can_change_settings(principal)
        before = await self._repo.get()
        zone = clean_time_zone(time_zone) if time_zone is not None else before.time_zone
        if zone == before.time_zone and before.version > 0:
            return before
        now = self._clock()
        after = TenantSettings(
            tenant_id=principal.tenant_id,
            time_zone=zone,
            version=before.version + 1,
            updated_at=now,
            updated_by=principal.user_id,
            role_overrides=before.role_overrides,
        )
        change = SettingsChange(
            version=after.version,
            actor_id=principal.user_id,
            changed_at=now,
            before_time_zone=before.time_zone,
            after_time_zone=zone,
        )
        return await self._save(before, after, change)

    async def role_overrides(self) -> RoleOverrides:
        """The tenant's changes to the default matrix (``tenant:configure`` only)."""
        can_read_role_permissions(self._principal)
        return (await self._repo.get()).role_overrides

    async def update_role(
        self, role: str, grant: Sequence[str], revoke: Sequence[str]
    ) -> TenantSettings:
        """Grant and revoke permissions of one role; an unchanged matrix writes nothing."""
        principal = self._principal
        can_change_settings(principal)
        before = await self._repo.get()
        overrides = change_role(role, grant, revoke, before.role_overrides)
        old = role_permissions(role, before.role_overrides)
        new = role_permissions(role, overrides)
        if old == new:
            return before
        now = self._clock()
        after = TenantSettings(
            tenant_id=principal.tenant_id,
            time_zone=before.time_zone,
            version=before.version + 1,
            updated_at=now,
            updated_by=principal.user_id,
            role_overrides=overrides,
        )
        change = SettingsChange(
            version=after.version,
            actor_id=principal.user_id,
            changed_at=now,
            before_time_zone=before.time_zone,
            after_time_zone=before.time_zone,
            role=role,
            before_permissions=tuple(sorted(old)),
            after_permissions=tuple(sorted(new)),
        )
        return await self._save(before, after, change)

    async def _save(
        self, before: TenantSettings, after: TenantSettings, change: SettingsChange
    ) -> TenantSettings:
        principal = self._principal
        payload = TenantSettingsChanged(
            time_zone=after.time_zone,
            version=after.version,
            actor_id=principal.user_id,
            changed_at=change.changed_at,
            previous_time_zone=before.time_zone,
            role_permissions={
                role: RolePermissionOverride(grants=sorted(o.grants), revokes=sorted(o.revokes))
                for role, o in sorted(after.role_overrides.items())
            },
            changed_role=change.role,
        )
        event = new_event(
            payload, source=EVENT_SOURCE, tenant_id=principal.tenant_id, key=principal.tenant_id
        )
        await self._repo.save(before, after, change, [event])
        self._notify_outbox()
        if self._on_change is not None:
            self._on_change(principal.tenant_id)
        return after
