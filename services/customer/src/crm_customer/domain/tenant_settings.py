"""A tenant's settings (today: its time zone), owned by the customer service. Pure.

Only an admin changes them; everyone of the tenant may read them (every screen shows dates in
the tenant's zone). A change is audited on the settings document itself (who, when, before,
after) and announced as ``crm.customer.tenant_settings_changed`` so the other services' copies
follow (`crm_common.tenants`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Forbidden
from crm_common.localtime import InvalidTimeZone, parse_time_zone


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """One audited change of the settings."""

    version: int
    actor_id: str
    changed_at: datetime
    before_time_zone: str
    after_time_zone: str


def can_change_settings(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may change the tenant's settings")


def can_read_history(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may read the history of the tenant's settings")


def clean_time_zone(name: str) -> str:
    """The IANA name as stored, or `BadUserInput` on ``input.timeZone``."""
    try:
        return parse_time_zone(name).key
    except InvalidTimeZone as exc:
        raise BadUserInput(str(exc), field="input.timeZone") from None
