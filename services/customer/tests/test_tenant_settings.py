"""The tenant's settings use cases (in memory): admin only, a bad zone changes nothing, an
unchanged zone writes nothing, each change is audited and announced with the next version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden
from crm_common.events.contracts.customer import TenantSettingsChanged
from crm_common.events.envelope import CloudEvent
from crm_common.tenants import TenantSettings
from crm_customer.domain.tenant_settings import SettingsChange
from crm_customer.service.tenant_settings import TenantSettingsService

NOW = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)


class MemorySettings:
    def __init__(self, tenant: str) -> None:
        self.settings = TenantSettings(tenant)
        self.changes: list[SettingsChange] = []
        self.events: list[CloudEvent] = []

    async def get(self) -> TenantSettings:
        return self.settings

    async def save(
        self,
        before: TenantSettings,
        after: TenantSettings,
        change: SettingsChange,
        events: Sequence[CloudEvent],
    ) -> None:
        assert before == self.settings
        self.settings = after
        self.changes.append(change)
        self.events.extend(events)

    async def history(self) -> list[SettingsChange]:
        return list(reversed(self.changes))


def _service(repo: MemorySettings, role: Role) -> TenantSettingsService:
    principal = Principal(tenant_id="t1", user_id=f"u-{role.value}", roles=frozenset({role}))
    return TenantSettingsService(principal, repo, lambda: None, clock=lambda: NOW)


async def test_an_admin_changes_the_zone_audited_and_announced() -> None:
    repo = MemorySettings("t1")
    admin = _service(repo, Role.ADMIN)
    assert (await admin.get()).time_zone == "Asia/Shanghai"
    after = await admin.update(" America/New_York ")
    assert (after.time_zone, after.version, after.updated_by) == ("America/New_York", 1, "u-admin")
    assert await admin.update("America/New_York") == after  # no change, no event
    await admin.update("Pacific/Kiritimati")
    assert [(c.version, c.before_time_zone, c.after_time_zone) for c in await admin.history()] == [
        (2, "America/New_York", "Pacific/Kiritimati"),
        (1, "Asia/Shanghai", "America/New_York"),
    ]
    payloads = [e.parse() for e in repo.events]
    assert all(isinstance(p, TenantSettingsChanged) for p in payloads)
    assert [(p.version, p.time_zone) for p in payloads if isinstance(p, TenantSettingsChanged)] == [
        (1, "America/New_York"),
        (2, "Pacific/Kiritimati"),
    ]
    assert {(e.tenant_id, e.key) for e in repo.events} == {("t1", "t1")}


async def test_others_read_but_may_not_change() -> None:
    repo = MemorySettings("t1")
    for role in (Role.SALES_REP, Role.SALES_MANAGER, Role.SERVICE_AGENT, Role.ANALYST):
        service = _service(repo, role)
        assert (await service.get()).version == 0
        with pytest.raises(Forbidden):
            await service.update("Europe/Berlin")
        with pytest.raises(Forbidden):
            await service.history()
    assert repo.events == []


async def test_a_bad_zone_changes_nothing() -> None:
    repo = MemorySettings("t1")
    repo.settings = replace(repo.settings, time_zone="Europe/London", version=3)
    for bad in ("Mars/Olympus", "+08:00", "", "../../etc/passwd"):
        with pytest.raises(BadUserInput) as raised:
            await _service(repo, Role.ADMIN).update(bad)
        assert raised.value.field == "input.timeZone"
    assert (repo.settings.time_zone, repo.settings.version, repo.events) == ("Europe/London", 3, [])
