"""Activity use cases: create an event/training/exhibition/webinar, register, record attendance."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.errors import BadUserInput, Conflict, NotFound
from crm_common.events.contracts.engagement import ActivityAttended, ActivityRegistered
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.activity import (
    KIND_ACTIVITIES_MAX,
    Activity,
    ActivityKind,
    Attendance,
    Registration,
    check_attendance_filter,
    check_attendance_recordable,
    registration_key,
    validate_activity,
    validate_contact,
)
from crm_engagement.domain.interaction import Participant, ParticipantKind, as_utc
from crm_engagement.domain.permissions import require_writer
from crm_engagement.service.base import UseCase


@dataclass(frozen=True, slots=True)
class CreateActivityCommand:
    kind: ActivityKind
    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    location: str | None = None


class ActivityService(UseCase):
    async def create(self, command: CreateActivityCommand) -> Activity:
        require_writer(self._principal, "create activities")
        validate_activity(
            title=command.title,
            starts_at=command.starts_at,
            ends_at=command.ends_at,
            location=command.location,
        )
        activity = Activity(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            kind=command.kind,
            title=command.title.strip(),
            starts_at=as_utc(command.starts_at),
            ends_at=as_utc(command.ends_at) if command.ends_at else None,
            location=command.location,
            created_by=self._principal.user_id,
            created_at=self._clock(),
        )
        await self._stores.activities.add(activity)
        return activity

    async def get(self, activity_id: str) -> Activity | None:
        return await self._stores.activities.get(activity_id)

    async def get_many(self, activity_ids: list[str]) -> dict[str, Activity]:
        return await self._stores.activities.get_many(activity_ids)

    async def list(self, page: PageRequest) -> Page[Activity]:
        return await self._stores.activities.list(page)

    async def register(
        self, activity_id: str, customer_id: str, contact: Participant | None
    ) -> Registration:
        require_writer(self._principal, "register customers for activities")
        validate_contact(contact)
        activity = await self._stores.activities.get(activity_id)
        if activity is None:
            raise NotFound(f"activity {activity_id} not found", field="input.activityId")
        await self._writable_customer(customer_id, "input.customerId")
        if contact is not None:
            contact = replace(contact, kind=ParticipantKind.CONTACT, name=contact.name.strip())
        registration = Registration(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            activity_id=activity.id,
            customer_id=customer_id,
            contact=contact,
            registered_by=self._principal.user_id,
            registered_at=self._clock(),
        )
        event = self._event(
            ActivityRegistered(
                activity_id=activity.id,
                registration_id=registration.id,
                customer_id=customer_id,
                contact_id=contact.ref_id if contact else None,
                activity_kind=activity.kind.value,
                title=activity.title,
                starts_at=activity.starts_at,
                registered_at=registration.registered_at,
            ),
            customer_id,
        )
        key = registration_key(activity.id, customer_id, contact)
        if not await self._stores.activities.add_registration(registration, key, [event]):
            raise Conflict("already registered for this activity", field="input.customerId")
        self._notify_outbox()
        return registration

    async def record_attendance(self, registration_id: str, attended: bool) -> Registration:
        require_writer(self._principal, "record attendance")
        registration = await self._stores.activities.get_registration(registration_id)
        if registration is None or not await self._may_see_id(registration.customer_id):
            raise NotFound(f"registration {registration_id} not found", field="input.id")
        await self._writable_customer(registration.customer_id, "input.id")
        activity = await self._stores.activities.get(registration.activity_id)
        assert activity is not None  # registrations are only made for existing activities
        now = self._clock()
        check_attendance_recordable(registration, now, activity.starts_at)
        recorded = replace(registration, attended=attended, attendance_recorded_at=now)
        events = (
            [
                self._event(
                    ActivityAttended(
                        activity_id=activity.id,
                        registration_id=registration.id,
                        customer_id=registration.customer_id,
                        contact_id=registration.contact.ref_id if registration.contact else None,
                        activity_kind=activity.kind.value,
                        attended_at=now,
                    ),
                    registration.customer_id,
                )
            ]
            if attended
            else []
        )
        if not await self._stores.activities.record_attendance(recorded, events):
            raise Conflict("attendance was recorded already", field="input.id")
        self._notify_outbox()
        return recorded

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[Registration]:
        if not await self._may_see_id(customer_id):
            return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)
        return await self._stores.activities.registrations([customer_id], None, page)

    async def registrations_of(self, activity_id: str, page: PageRequest) -> Page[Registration]:
        visible = await self._visible_customer_ids()
        return await self._stores.activities.registrations(visible, activity_id, page)

    async def customers_by_attendance(
        self,
        *,
        activity_id: str | None,
        kind: ActivityKind | None,
        attendance: Attendance,
        page: PageRequest,
    ) -> Page[str]:
        """Ids of the customers (that the caller sees) registered for an activity or for any
        activity of a kind, by attendance; one entry per customer, in id order."""
        check_attendance_filter(activity_id, kind)
        if page.backward:
            raise BadUserInput("this list pages forward only (first/after)", field="last")
        size = page.size
        after = _decode_cursor(page.after) if page.after else None
        if activity_id is not None:
            activity_ids: Sequence[str] = [activity_id]
        else:
            assert kind is not None
            activity_ids = await self._stores.activities.ids_of_kind(
                kind.value, KIND_ACTIVITIES_MAX
            )
        visible = await self._visible_customer_ids()
        if not activity_ids or (visible is not None and not visible):
            return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)
        ids, more, total = await self._stores.activities.registered_customers(
            activity_ids, attendance.attended_value, visible, after, size
        )
        return Page(
            items=[(cid, _encode_cursor(cid)) for cid in ids],
            has_next_page=more,
            has_previous_page=after is not None,
            total_count=total,
        )


def _encode_cursor(customer_id: str) -> str:
    return base64.urlsafe_b64encode(f"c:{customer_id}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("c:"):
        raise BadUserInput("after is not a cursor of this list", field="after")
    return raw[2:]
