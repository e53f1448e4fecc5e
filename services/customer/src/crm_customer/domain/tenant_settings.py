"""A tenant's settings (its time zone and role permissions), owned by the customer service. Pure.

Only a holder of ``tenant:configure`` (an admin by default) changes them; everyone of the
tenant may read the time zone (every screen shows dates in the tenant's zone). A change is
audited on the settings document itself (who, when, before, after) and announced as
``crm.customer.tenant_settings_changed`` so the other services' copies follow
(`crm_common.tenants`). Role permissions: `crm_common.permissions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm_common.auth import Principal
from crm_common.errors import BadUserInput
from crm_common.localtime import InvalidTimeZone, parse_time_zone
from crm_common.permissions import TENANT_CONFIGURE, refusal


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """One audited change of the settings: of the time zone, or of one role's permissions
    (``role`` set; ``before_permissions``/``after_permissions`` its effective permissions)."""

    version: int
    actor_id: str
    changed_at: datetime
    before_time_zone: str
    after_time_zone: str
    role: str | None = None
    before_permissions: tuple[str, ...] = ()
    after_permissions: tuple[str, ...] = ()


def can_change_settings(principal: Principal) -> None:
    if not principal.may(TENANT_CONFIGURE):
        raise refusal("change the tenant's settings", TENANT_CONFIGURE, principal.roles)


def can_read_history(principal: Principal) -> None:
    if not principal.may(TENANT_CONFIGURE):
        raise refusal(
            "read the history of the tenant's settings", TENANT_CONFIGURE, principal.roles
        )


def can_read_role_permissions(principal: Principal) -> None:
    if not principal.may(TENANT_CONFIGURE):
        raise refusal("read the tenant's role permissions", TENANT_CONFIGURE, principal.roles)


def clean_time_zone(name: str) -> str:
    """The IANA name as stored, or `BadUserInput` on ``input.timeZone``."""
    try:
        return parse_time_zone(name).key
    except InvalidTimeZone as exc:
        raise BadUserInput(str(exc), field="input.timeZone") from None
