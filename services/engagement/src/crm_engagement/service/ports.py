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
from crm_engagement.domain.care import CarePlan, CarePlanSettings, Segment, TouchCampaign
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
    participant_id: str | None = None  # tasks this user joined as a participant
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

    async def touch_first_interaction(self, customer_id: str, at: datetime, by: str) -> None:
        """Lower the first touch (time, by whom) to ``at`` unless it is earlier already."""

    async def note_contact(self, customer_id: str, at: datetime) -> None:
        """Lower the time the first contact person was registered to ``at``."""

    async def first_touches(
        self, period_from: datetime, period_to: datetime, customer_ids: Sequence[str] | None
    ) -> list[tuple[str, datetime, datetime | None]]:
        """(first toucher, first touch, first contact) of customers first touched in the
        period (``customer_ids`` None: all of the tenant's)."""


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

    async def count_by_owner(self, query: InteractionQuery, late_only: bool) -> dict[str, int]:
        """How many interactions match, per owner (only the late entries if ``late_only``)."""


class FollowUpRepository(Protocol):
    async def add(self, task: FollowUp, events: Sequence[CloudEvent]) -> bool:
        """False when a task with this id exists already (a redelivered reaction)."""

    async def get(self, followup_id: str) -> FollowUp | None: ...

    async def finish(
        self, task: FollowUp, expected: Sequence[FollowUpStatus], events: Sequence[CloudEvent]
    ) -> bool:
        """Store the finished task if its status is still one of ``expected``."""

    async def list(self, query: FollowUpQuery, page: PageRequest) -> Page[FollowUp]: ...

    async def set_participants(self, task: FollowUp, events: Sequence[CloudEvent]) -> bool:
        """Store the task's participant set while it is still open or overdue."""


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

    async def ids_of_kind(self, kind: str, limit: int) -> Sequence[str]:
        """Ids of the tenant's activities of one kind, newest first, at most ``limit``."""

    async def registered_customers(
        self,
        activity_ids: Sequence[str],
        attended: bool | str | None,
        customer_ids: Sequence[str] | None,
        after: str | None,
        size: int,
    ) -> tuple[Sequence[str], bool, int]:
        """Distinct customer ids registered for any of ``activity_ids`` with that ``attended``
        ("any": every registration), in id order after ``after``: (page, more, total)."""


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


@dataclass(frozen=True, slots=True)
class SegmentMember:
    customer_id: str
    owner_id: str
    name: str


class CareRepository(Protocol):
    """Care plans after a deal, the tenant's care settings and segment look-ups."""

    async def settings(self) -> CarePlanSettings: ...

    async def save_settings(self, settings: CarePlanSettings) -> None: ...

    async def add_plan(self, plan: CarePlan, events: Sequence[CloudEvent]) -> bool:
        """False when the plan exists already (a redelivered deal event)."""

    async def add_campaign(
        self, campaign_id: str, fields: dict[str, Any], events: Sequence[CloudEvent]
    ) -> None:
        """Record a planned touch campaign (what was planned, for whom, by whom)."""

    async def get_plan(self, plan_id: str) -> CarePlan | None: ...

    async def hand_over(self, customer_id: str, from_owner: str, to_owner: str) -> int:
        """The customer's care passes from ``from_owner`` to ``to_owner``: its plans (their
        next rounds) and its unfinished visits assigned to the old owner; returns how many
        visits moved. Idempotent: a repeat finds nothing assigned to the old owner."""

    async def withdraw(
        self, customer_id: str, lost_at: datetime, reason: str, now: datetime
    ) -> tuple[list[str], int]:
        """The customer was lost at ``lost_at``: mark its plans of deals made until then
        withdrawn (first time only) and cancel their unfinished visits with ``reason``.
        Returns the plan ids and how many visits this call cancelled. Idempotent: a repeat
        finds the plans marked and nothing unfinished."""

    async def cancel_visits(self, plan_ids: Sequence[str], reason: str, now: datetime) -> int:
        """Cancel the unfinished visits of these plans (origin care plan); how many."""

    async def segment(self, segment: Segment, limit: int) -> Sequence[SegmentMember]:
        """Active customers matching the segment (at most ``limit`` + 1, to tell "too many")."""

    async def campaigns(self, team: str | None, page: PageRequest) -> Page[TouchCampaign]:
        """Touch campaigns, newest first: the tenant's (``team`` None) or those whose segment
        names ``team``."""

    async def campaign_counts(self, campaign_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per campaign, how many of its follow-ups are in each status (one query)."""


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
    care: CareRepository
    # The tenant's time zone (crm_common.tenants; None: the default zone).
    zone: Callable[[], Awaitable[ZoneInfo]] | None = None


class EngagementServices(Protocol):
    def interactions(self, principal: Any) -> Any: ...

    def followups(self, principal: Any) -> Any: ...

    def activities(self, principal: Any) -> Any: ...

    def timeline(self, principal: Any) -> Any: ...

    def settings(self, principal: Any) -> Any: ...

    def timeliness(self, principal: Any) -> Any: ...

    def care(self, principal: Any) -> Any: ...

    def notifications(self, principal: Any) -> Any: ...

    def live_feed(self) -> Any: ...
