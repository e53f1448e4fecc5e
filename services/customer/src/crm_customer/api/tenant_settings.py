"""GraphQL of the tenant's settings (merged into the customer schema by ``api/schema.py``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_common.tenants import TenantSettings as SettingsModel
from crm_customer.api.context import principal_of, services_of
from crm_customer.domain.tenant_settings import SettingsChange
from crm_customer.service.tenant_settings import TenantSettingsService


def _service(info: strawberry.Info) -> TenantSettingsService:
    service: TenantSettingsService = services_of(info).tenant_settings(principal_of(info))
    return service


@strawberry.type(description="One audited change of the tenant's settings.")
class TenantSettingsChange:
    version: int = strawberry.field(description="The settings' version this change made.")
    actor_id: str = strawberry.field(description="The admin who made the change.")
    changed_at: datetime = strawberry.field(description="When (ISO 8601, UTC).")
    time_zone_before: str = strawberry.field(description="The time zone before the change.")
    time_zone_after: str = strawberry.field(description="The time zone after the change.")

    @classmethod
    def from_model(cls, m: SettingsChange) -> TenantSettingsChange:
        return cls(
            version=m.version,
            actor_id=m.actor_id,
            changed_at=m.changed_at,
            time_zone_before=m.before_time_zone,
            time_zone_after=m.after_time_zone,
        )


@strawberry.type(description="Settings of your tenant that every service follows.")
class TenantSettings:
    time_zone: str = strawberry.field(
        description="IANA time zone (e.g. Asia/Shanghai, the default): customer and quote "
        "numbers, due-today, quote validity and report periods use its local dates; stored "
        "instants stay UTC."
    )
    version: int = strawberry.field(
        description="How many times the settings were changed (0: never, defaults apply)."
    )
    updated_at: datetime | None = strawberry.field(
        description="When they were last changed (ISO 8601, UTC); null if never."
    )
    updated_by: str | None = strawberry.field(description="Who changed them last; null if never.")

    @strawberry.field(description="The audited changes, newest first (admin only).")
    async def changes(self, info: strawberry.Info) -> list[TenantSettingsChange]:
        return [TenantSettingsChange.from_model(c) for c in await _service(info).history()]

    @classmethod
    def from_model(cls, m: SettingsModel) -> TenantSettings:
        return cls(
            time_zone=m.time_zone,
            version=m.version,
            updated_at=m.updated_at,
            updated_by=m.updated_by,
        )


@strawberry.input(description="Settings to change; omitted ones stay as they are.")
class UpdateTenantSettingsInput:
    time_zone: str | None = strawberry.field(
        default=None,
        description="An IANA time zone name such as Asia/Shanghai or America/New_York "
        "(not an offset); an unknown name is BAD_USER_INPUT on input.timeZone.",
    )


@strawberry.type(description="The tenant's settings after the change.")
class UpdateTenantSettingsPayload:
    settings: TenantSettings = strawberry.field(description="The settings as now stored.")


@strawberry.type
class TenantSettingsQuery:
    @strawberry.field(description="Your tenant's settings (its time zone); any role may read.")
    async def tenant_settings(self, info: strawberry.Info) -> TenantSettings:
        return TenantSettings.from_model(await _service(info).get())


@strawberry.type
class TenantSettingsMutation:
    @strawberry.mutation(
        description="Change your tenant's settings (admin only); audited and announced to "
        "every service (they follow within seconds)."
    )
    async def update_tenant_settings(
        self, info: strawberry.Info, input: UpdateTenantSettingsInput
    ) -> UpdateTenantSettingsPayload:
        settings = await _service(info).update(input.time_zone)
        return UpdateTenantSettingsPayload(settings=TenantSettings.from_model(settings))
