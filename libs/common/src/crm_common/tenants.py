"""Tenant settings every service needs (the tenant's time zone and role permissions), and
local dates.

A tenant has a time zone (an IANA name, default ``Asia/Shanghai``) set by its admin in the
customer service, which owns the settings. Stored instants stay UTC; every date a person sees
or a number embeds (customer and quote numbers, "due today", quote validity, report periods)
is the tenant's local date. See docs/architecture.md ("Tenant time zone").

One mechanism for every service:

- the settings document: collection ``tenant_settings``, one document per tenant
  (``_id`` = tenant id, ``tenant_id``, ``time_zone``, ``role_permissions``, ``version``,
  ``updated_at``), seen through
  `TenantSettingsCopy` (a tenant-scoped repository). The customer service writes its master
  document in this shape (plus its own audit fields); every other service holds a COPY in its
  own database, applied from ``crm.customer.tenant_settings_changed`` by
  `tenant_settings_handlers` (or `apply_settings_event` for insights' batch consumer);
- applying is one upsert ``$set`` of the whole settings on the condition "the copy holds an
  older version (or none)": a redelivered or overtaken event matches nothing, and the upsert's
  duplicate-key answer means "newer already held" (the customer copies' rule,
  `crm_common.customers.copies`). The event is keyed by tenant, so one partition and one group
  member handle a tenant's settings at a time;
- `TenantZones` (also named `TenantSettingsCache`): the tenant's settings, cached per process
  for ``ttl_s`` (``TENANT_SETTINGS_CACHE_TTL_S``, 30 s by default). ``zone_of(tenant_id)`` is
  the tenant's `ZoneInfo`; ``authorize(principal)`` gives a request's principal its effective
  permissions (`crm_common.permissions`: the default matrix changed by the tenant's role
  overrides; `create_app` calls it for every request). Staleness: after an admin changes the
  zone or a role, a replica may keep using the previous settings for up to the TTL (plus the
  event's delivery lag in other services); the replica that applied the event (or, in the
  customer service, made the change) forgets its cached entry at once. A tenant without
  settings gets the defaults.

The pure helpers (`parse_time_zone`, `local_date`, `start_of_local_day`, `local_day_bounds`)
live in `crm_common.localtime` (no I/O, so domain code may import them) and are re-exported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.auth import Principal
from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TenantSettingsChanged
from crm_common.events.envelope import CloudEvent
from crm_common.localtime import (
    DEFAULT_TIME_ZONE,
    InvalidTimeZone,
    default_zone,
    local_date,
    local_day_bounds,
    parse_time_zone,
    start_of_local_day,
)
from crm_common.mongo import Document, TenantRepository
from crm_common.permissions import (
    RoleOverride,
    overrides_from_document,
    overrides_to_document,
    role_permissions,
)

log = logging.getLogger(__name__)

TENANT_SETTINGS = "tenant_settings"
# Keyed by tenant (``_id`` = tenant id); the index only keeps the tenant-scoped filter cheap.
TENANT_SETTINGS_INDEXES: dict[str, list[IndexModel]] = {
    TENANT_SETTINGS: [IndexModel([("tenant_id", ASCENDING)], name="by_tenant")],
}
ZONE_CACHE_TTL_S = 30.0  # the default of ServiceSettings.tenant_settings_cache_ttl_s


# --- the settings document -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """A tenant's settings as a service holds them (defaults when nothing was ever set)."""

    tenant_id: str
    time_zone: str = DEFAULT_TIME_ZONE
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None
    # role -> what the tenant changed of its default permissions (crm_common.permissions).
    role_overrides: Mapping[str, RoleOverride] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        try:
            return parse_time_zone(self.time_zone)
        except InvalidTimeZone:
            # A zone this process's tzdata does not know (an older image): the default, loudly.
            log.warning("unknown tenant time zone", extra={"time_zone": self.time_zone})
            return default_zone()


def settings_from_document(tenant_id: str, doc: Document | None) -> TenantSettings:
    if doc is None:
        return TenantSettings(tenant_id)
    return TenantSettings(
        tenant_id=tenant_id,
        time_zone=doc.get("time_zone") or DEFAULT_TIME_ZONE,
        version=int(doc.get("version") or 0),
        updated_at=doc.get("updated_at"),
        updated_by=doc.get("updated_by"),
        role_overrides=overrides_from_document(doc.get("role_permissions")),
    )


def settings_values(settings: TenantSettings) -> Document:
    """The settings as a document holds them (master and copies alike)."""
    return {
        "time_zone": settings.time_zone,
        "role_permissions": overrides_to_document(settings.role_overrides),
        "version": settings.version,
        "updated_at": settings.updated_at,
        "updated_by": settings.updated_by,
    }


class TenantSettingsCopy(TenantRepository):
    """One tenant's settings document in this service's database (`TENANT_SETTINGS`)."""

    collection_name = TENANT_SETTINGS

    async def get(self) -> TenantSettings:
        doc = await self.collection.find_one({"_id": self.tenant_id})
        return settings_from_document(self.tenant_id, doc)

    async def apply(self, event: TenantSettingsChanged) -> bool:
        """Hold the event's settings unless the copy holds that version or a newer one
        already; True if applied."""
        values: Document = {
            "time_zone": event.time_zone,
            "role_permissions": {
                role: {"grants": sorted(o.grants), "revokes": sorted(o.revokes)}
                for role, o in (event.role_permissions or {}).items()
            },
            "version": event.version,
            "updated_at": event.changed_at,
            "updated_by": event.actor_id,
        }
        older = {"$or": [{"version": {"$exists": False}}, {"version": {"$lt": event.version}}]}
        try:
            await self.collection.update_one(
                {"_id": self.tenant_id, **older}, {"$set": values}, upsert=True
            )
        except DuplicateKeyError:
            return False  # the copy holds this version or a newer one
        return True


# --- the cached lookup ------------------------------------------------------------------------


class TenantZones:
    """A tenant's settings for one process: read from ``tenant_settings``, cached ``ttl_s``;
    ``zone_of(tenant)`` and ``authorize(principal)`` answer from them.

    Staleness is bounded by the TTL (plus, outside the customer service, the event's delivery
    lag); `forget` drops a tenant's entry (the applying replica calls it)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        ttl_s: float = ZONE_CACHE_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, TenantSettings, ZoneInfo]] = {}

    async def _entry(self, tenant_id: str) -> tuple[float, TenantSettings, ZoneInfo]:
        now = self._monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached
        settings = await TenantSettingsCopy(self._db, tenant_id).get()
        if len(self._cache) > 10_000:
            self._cache.clear()  # bounded: tenants are few, but never grow without limit
        entry = self._cache[tenant_id] = (now + self._ttl_s, settings, settings.zone)
        return entry

    async def settings_of(self, tenant_id: str) -> TenantSettings:
        return (await self._entry(tenant_id))[1]

    async def zone_of(self, tenant_id: str) -> ZoneInfo:
        return (await self._entry(tenant_id))[2]

    async def authorize(self, principal: Principal) -> Principal:
        """The principal with its roles' effective permissions in its tenant."""
        settings = await self.settings_of(principal.tenant_id)
        grants = {r: role_permissions(r, settings.role_overrides) for r in principal.roles}
        return replace(principal, role_grants=grants)

    def forget(self, tenant_id: str) -> None:
        self._cache.pop(tenant_id, None)


async def apply_settings_event(
    db: AsyncDatabase[Document],
    event: CloudEvent,
    payload: EventData,
    zones: TenantZones | None = None,
) -> bool:
    """Apply a ``tenant_settings_changed`` event to this service's copy; True if applied."""
    if not isinstance(payload, TenantSettingsChanged):
        return False
    applied = await TenantSettingsCopy(db, event.tenant_id).apply(payload)
    if zones is not None:
        zones.forget(event.tenant_id)
    if not applied:
        log.debug("tenant settings copy already newer", extra={"event_id": event.id})
    return applied


def tenant_settings_handlers(
    db: AsyncDatabase[Document], zones: TenantZones | None = None
) -> dict[str, Handler]:
    """The consumer handler that keeps this service's copy of tenant settings (register it on
    the consumer of ``crm.customer.v1``)."""

    async def handle(event: CloudEvent, payload: EventData) -> None:
        await apply_settings_event(db, event, payload, zones)

    return {TenantSettingsChanged.event_type: handle}


# The name says what it holds: every setting of a tenant, not only its zone.
TenantSettingsCache = TenantZones

__all__ = [
    "DEFAULT_TIME_ZONE",
    "TENANT_SETTINGS",
    "TENANT_SETTINGS_INDEXES",
    "InvalidTimeZone",
    "TenantSettings",
    "TenantSettingsCache",
    "TenantSettingsCopy",
    "TenantZones",
    "apply_settings_event",
    "default_zone",
    "local_date",
    "local_day_bounds",
    "parse_time_zone",
    "settings_values",
    "start_of_local_day",
    "tenant_settings_handlers",
]
