"""GraphQL of the tenant's settings and role permissions (merged into the customer schema by
``api/schema.py``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_common.permissions import (
    CATALOGUE,
    DEFAULT_MATRIX,
    ROLES,
    RoleOverrides,
    role_permissions,
)
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
    role: str | None = strawberry.field(
        description="The role whose permissions this change granted or revoked; null when "
        "it changed other settings."
    )
    permissions_before: list[str] = strawberry.field(
        description="The role's permissions before the change (empty unless `role` is set)."
    )
    permissions_after: list[str] = strawberry.field(
        description="The role's permissions after the change (empty unless `role` is set)."
    )
    granted: list[str] = strawberry.field(description="Permissions the change granted the role.")
    revoked: list[str] = strawberry.field(
        description="Permissions the change revoked from the role."
    )

    @classmethod
    def from_model(cls, m: SettingsChange) -> TenantSettingsChange:
        before, after = set(m.before_permissions), set(m.after_permissions)
        return cls(
            version=m.version,
            actor_id=m.actor_id,
            changed_at=m.changed_at,
            time_zone_before=m.before_time_zone,
            time_zone_after=m.after_time_zone,
            role=m.role,
            permissions_before=list(m.before_permissions),
            permissions_after=list(m.after_permissions),
            granted=sorted(after - before),
            revoked=sorted(before - after),
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


@strawberry.type(description="A permission of the catalogue: what a role may be allowed to do.")
class PermissionInfo:
    name: str = strawberry.field(description='"module:action", e.g. customer:write.')
    module: str = strawberry.field(
        description="customer, engagement, quoting, servicedesk, insights or tenant."
    )
    action: str = strawberry.field(description="The action within the module, e.g. write.")
    description: str = strawberry.field(description="What the permission allows.")


@strawberry.type(description="Whether a role holds one permission in this tenant.")
class RolePermission:
    permission: str = strawberry.field(description='The permission ("module:action").')
    description: str = strawberry.field(description="What the permission allows.")
    granted: bool = strawberry.field(description="Whether the role holds it in this tenant.")
    by_default: bool = strawberry.field(
        description="Whether the role holds it by default (the product's matrix)."
    )
    changed: bool = strawberry.field(
        description="True when this tenant's admin changed it (granted differs from byDefault)."
    )


@strawberry.type(description="One role's permissions in this tenant.")
class RolePermissions:
    role: str = strawberry.field(
        description="The role: sales_rep, sales_manager, service_agent, service_manager, "
        "analyst or admin."
    )
    granted: list[str] = strawberry.field(description="The permissions the role holds, sorted.")
    permissions: list[RolePermission] = strawberry.field(
        description="Every permission of the catalogue, held or not, in catalogue order."
    )

    @classmethod
    def of(cls, role: str, overrides: RoleOverrides) -> RolePermissions:
        held = role_permissions(role, overrides)
        default = DEFAULT_MATRIX[role]
        return cls(
            role=role,
            granted=sorted(held),
            permissions=[
                RolePermission(
                    permission=name,
                    description=text,
                    granted=name in held,
                    by_default=name in default,
                    changed=(name in held) != (name in default),
                )
                for name, text in CATALOGUE.items()
            ],
        )


@strawberry.type(description="The tenant's role → permission matrix (tenant:configure only).")
class RolePermissionMatrix:
    catalogue: list[PermissionInfo] = strawberry.field(
        description="Every permission there is, with what it allows."
    )
    roles: list[RolePermissions] = strawberry.field(
        description="Every role with its effective permissions in this tenant."
    )

    @strawberry.field(
        description="The audited changes of role permissions, newest first (who, when, "
        "before, after)."
    )
    async def changes(self, info: strawberry.Info) -> list[TenantSettingsChange]:
        return [
            TenantSettingsChange.from_model(c)
            for c in await _service(info).history()
            if c.role is not None
        ]

    @classmethod
    def of(cls, overrides: RoleOverrides) -> RolePermissionMatrix:
        return cls(
            catalogue=[
                PermissionInfo(
                    name=name,
                    module=name.split(":", 1)[0],
                    action=name.split(":", 1)[1],
                    description=text,
                )
                for name, text in CATALOGUE.items()
            ],
            roles=[RolePermissions.of(role, overrides) for role in ROLES],
        )


@strawberry.input(description="Permissions to grant to and revoke from one role.")
class UpdateRolePermissionsInput:
    role: str = strawberry.field(
        description="The role to change (sales_rep, sales_manager, service_agent, "
        "service_manager, analyst, admin); another name is BAD_USER_INPUT on input.role."
    )
    grant: list[str] = strawberry.field(
        default_factory=list,
        description='Permissions ("module:action") the role gains; an unknown name is '
        "BAD_USER_INPUT on input.grant.",
    )
    revoke: list[str] = strawberry.field(
        default_factory=list,
        description="Permissions the role loses; an unknown name is BAD_USER_INPUT on "
        "input.revoke, and tenant:configure is never revoked from admin.",
    )


@strawberry.type(description="The role's permissions after the change.")
class UpdateRolePermissionsPayload:
    role: RolePermissions = strawberry.field(description="The role as it now stands.")
    version: int = strawberry.field(description="The tenant settings' version after the change.")


@strawberry.type
class TenantSettingsQuery:
    @strawberry.field(description="Your tenant's settings (its time zone); any role may read.")
    async def tenant_settings(self, info: strawberry.Info) -> TenantSettings:
        return TenantSettings.from_model(await _service(info).get())

    @strawberry.field(
        description="Every role's permissions in your tenant, against the default matrix, "
        "with the catalogue of permissions (tenant:configure, an admin by default)."
    )
    async def role_permissions(self, info: strawberry.Info) -> RolePermissionMatrix:
        return RolePermissionMatrix.of(await _service(info).role_overrides())

    @strawberry.field(
        description='What you may do in your tenant: your roles\' permissions ("module:action"), '
        "sorted; any role may ask."
    )
    def my_permissions(self, info: strawberry.Info) -> list[str]:
        return sorted(principal_of(info).held_permissions())


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

    @strawberry.mutation(
        description="Grant and revoke permissions of one role in your tenant (tenant:configure, "
        "an admin by default). Audited (rolePermissions.changes) and announced to every "
        "service: each follows within its settings cache time (30 s by default)."
    )
    async def update_role_permissions(
        self, info: strawberry.Info, input: UpdateRolePermissionsInput
    ) -> UpdateRolePermissionsPayload:
        settings = await _service(info).update_role(input.role, input.grant, input.revoke)
        return UpdateRolePermissionsPayload(
            role=RolePermissions.of(input.role, settings.role_overrides),
            version=settings.version,
        )
