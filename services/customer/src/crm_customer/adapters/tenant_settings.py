"""Mongo store of the tenant's settings: the master document of `crm_common.tenants`.

One document per tenant in ``tenant_settings`` (``_id`` = tenant id), in the shape every
service's copy has (``time_zone``, ``role_permissions``, ``version``, ``updated_at``,
``updated_by``), so the process's `TenantZones` reads it like any copy; the audit trail
(``history``) and the outbox ids live on the same document, written by the same
single-document write as the change.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.errors import DuplicateKeyError

from crm_common.errors import Conflict
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import staged_events
from crm_common.mongo import Document
from crm_common.tenants import TenantSettings, TenantSettingsCopy, settings_values
from crm_customer.domain.tenant_settings import SettingsChange

HISTORY_KEPT = 200


def _entry(change: SettingsChange) -> Document:
    before: Document = {"time_zone": change.before_time_zone}
    after: Document = {"time_zone": change.after_time_zone}
    entry: Document = {
        "version": change.version,
        "actor_id": change.actor_id,
        "changed_at": change.changed_at,
        "before": before,
        "after": after,
    }
    if change.role is not None:
        entry["role"] = change.role
        before["permissions"] = list(change.before_permissions)
        after["permissions"] = list(change.after_permissions)
    return entry


def _change(entry: Document) -> SettingsChange:
    return SettingsChange(
        version=int(entry["version"]),
        actor_id=entry["actor_id"],
        changed_at=entry["changed_at"],
        before_time_zone=entry["before"]["time_zone"],
        after_time_zone=entry["after"]["time_zone"],
        role=entry.get("role"),
        before_permissions=tuple(entry["before"].get("permissions") or ()),
        after_permissions=tuple(entry["after"].get("permissions") or ()),
    )


def _conflict() -> Conflict:
    return Conflict("the tenant's settings were just changed; reload and try again")


class MongoTenantSettingsRepository(TenantSettingsCopy):
    async def save(
        self,
        before: TenantSettings,
        after: TenantSettings,
        change: SettingsChange,
        events: Sequence[CloudEvent],
    ) -> None:
        values = settings_values(after)
        async with staged_events(self._db, self.collection_name, self.tenant_id, events) as staged:
            if before.version == 0:
                # The first change creates the document: the insert is the claim.
                try:
                    await self.collection.insert_one(
                        {"_id": self.tenant_id, **values, "history": [_entry(change)]}
                        | staged.fields
                    )
                except DuplicateKeyError:
                    staged.abandon()
                    raise _conflict() from None
                return
            result = await self.collection.update_one(
                {"_id": self.tenant_id, "version": before.version},
                staged.merged(
                    {
                        "$set": values,
                        "$push": {"history": {"$each": [_entry(change)], "$slice": -HISTORY_KEPT}},
                    }
                ),
            )
            if result.matched_count != 1:
                staged.abandon()
                raise _conflict()

    async def history(self) -> list[SettingsChange]:
        doc = await self.collection.find_one({"_id": self.tenant_id}, {"history": 1})
        entries = (doc or {}).get("history") or []
        return sorted((_change(e) for e in entries), key=lambda c: c.version, reverse=True)
