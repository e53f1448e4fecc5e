"""What the engagement use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.activity import Activity, Registration
from crm_engagement.domain.followup import EngagementSettings, FollowUp, FollowUpStatus
from crm_engagement.domain.interaction import Correction, CustomerRef, Interaction
from crm_engagement.domain.timeline import TimelineEntry


@dataclass(frozen=True, slots=True)
class InteractionQuery:
    """Which interactions to list; ``customer_ids`` None means every customer of the tenant."""

    customer_ids: Sequence[str] | None = None
    owner_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class FollowUpQuery:
    assignee_id: str | None = None
    customer_ids: Sequence[str] | None = None
    statuses: Sequence[FollowUpStatus] = ()
    remind_before: datetime | None = None  # reminder time reached by then
    due_before: datetime | None = None
    due_from: datetime | None = None


class CustomerRefRepository(Protocol):
    """The shared customer copy (kept by `crm_common.customers` from the customer events),
    with engagement's own priority and last interaction time."""

    async def get(self, customer_id: str) -> CustomerRef | None: ...

    async def get_many(self, customer_ids: Sequence[str]) -> dict[str, CustomerRef]: ...

    async def set_priority(self, customer_id: str, priority: str) -> None: ...

    async def touch_last_interaction(self, customer_id: str, at: datetime) -> None:
        """Raise ``last_interaction_at`` to ``at`` unless it is later already."""

    async def visible_ids(self, owner_id: str | None, team: str | None) -> list[str]:
        """Ids of the customers CURRENTLY owned by ``owner_id`` or belonging to ``team``."""


class CustomerRecords(Protocol):
    async def repoint(self, merged_id: str, kept_id: str) -> dict[str, int]:
        """Move the merged customer's records to the kept one; how many per collection."""


class InteractionRepository(Protocol):
    async def add(self, interaction: Interaction, events: Sequence[CloudEvent]) -> None: ...

    async def get(self, interaction_id: str) -> Interaction | None: ...

    async def replace_editable(self, interaction: Interaction, created_before: datetime) -> bool:
        """Overwrite the editable fields while the grace period (by created time) holds."""

    async def add_correction(self, interaction_id: str, correction: Correction) -> None: ...

    async def list(self, query: InteractionQuery, page: PageRequest) -> Page[Interaction]: ...

    async def first_pages(
        self, customer_ids: Sequence[str], size: int
    ) -> dict[str, Page[Interaction]]:
        """The first page of each customer's interactions, in one query for the whole batch."""

    async def latest_for(self, customer_id: str) -> datetime | None: ...


class FollowUpRepository(Protocol):
    async def add(self, task: FollowUp, events: Sequence[CloudEvent]) -> bool:
        """False when a task with this id exists already (a redelivered reaction)."""

    async def get(self, followup_id: str) -> FollowUp | None: ...

    async def finish(
        self, task: FollowUp, expected: Sequence[FollowUpStatus], events: Sequence[CloudEvent]
    ) -> bool:
        """Store the finished task if its status is still one of ``expected``."""

    async def list(self, query: FollowUpQuery, page: PageRequest) -> Page[FollowUp]: ...


class ActivityRepository(Protocol):
    async def add(self, activity: Activity) -> None: ...

    async def get(self, activity_id: str) -> Activity | None: ...

    async def get_many(self, activity_ids: Sequence[str]) -> dict[str, Activity]: ...

    async def list(self, page: PageRequest) -> Page[Activity]: ...

    async def add_registration(
        self, registration: Registration, key: str, events: Sequence[CloudEvent]
    ) -> bool:
        """False when the same activity/customer/contact is registered already."""

    async def get_registration(self, registration_id: str) -> Registration | None: ...

    async def record_attendance(
        self, registration: Registration, events: Sequence[CloudEvent]
    ) -> bool:
        """Store the attendance once; False if it was recorded already."""

    async def registrations(
        self, customer_ids: Sequence[str] | None, activity_id: str | None, page: PageRequest
    ) -> Page[Registration]: ...


class TimelineRepository(Protocol):
    async def add(self, entry: TimelineEntry) -> bool:
        """False when an entry for this event id exists already."""

    async def for_customer(
        self,
        customer_id: str,
        types: Sequence[str] | None,
        page: PageRequest,
        newest_first: bool,
    ) -> Page[TimelineEntry]: ...


class SettingsRepository(Protocol):
    async def get(self) -> EngagementSettings: ...

    async def save(self, settings: EngagementSettings) -> None: ...


class ReminderStore(Protocol):
    """Across tenants: the tasks whose reminders are due, and the atomic claim of each."""

    async def due_candidates(self, now: datetime, limit: int) -> list[FollowUp]: ...

    async def overdue_candidates(self, now: datetime, limit: int) -> list[FollowUp]: ...

    async def claim_due(self, task: FollowUp, event: CloudEvent) -> bool: ...

    async def claim_overdue(self, task: FollowUp, event: CloudEvent) -> bool: ...


@dataclass(frozen=True, slots=True)
class TenantStores:
    """The repositories of one tenant (what a use case is built with)."""

    customers: CustomerRefRepository
    interactions: InteractionRepository
    followups: FollowUpRepository
    activities: ActivityRepository
    timeline: TimelineRepository
    settings: SettingsRepository
    records: CustomerRecords
    # The tenant's time zone (crm_common.tenants; None: the default zone).
    zone: Callable[[], Awaitable[ZoneInfo]] | None = None


class EngagementServices(Protocol):
    def interactions(self, principal: Any) -> Any: ...

    def followups(self, principal: Any) -> Any: ...

    def activities(self, principal: Any) -> Any: ...

    def timeline(self, principal: Any) -> Any: ...

    def settings(self, principal: Any) -> Any: ...

    def notifications(self, principal: Any) -> Any: ...

    def live_feed(self) -> Any: ...
