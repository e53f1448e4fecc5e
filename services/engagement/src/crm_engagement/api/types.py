"""GraphQL types of the engagement subgraph."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.api.loaders import (
    activity_loader,
    first_interactions_loader,
    last_interaction_loader,
)
from crm_engagement.domain import activity as activity_model
from crm_engagement.domain import followup as followup_model
from crm_engagement.domain import interaction as interaction_model
from crm_engagement.domain import timeline as timeline_model
from crm_engagement.domain.permissions import masks_contact_details
from crm_engagement.service.followups import DueWindow as DueWindowModel

InteractionKind = strawberry.enum(
    interaction_model.InteractionKind, description="How the customer was reached."
)
ParticipantKind = strawberry.enum(
    interaction_model.ParticipantKind, description="One of our users or a customer contact."
)
Priority = strawberry.enum(followup_model.Priority, description="How urgent / how often.")
FollowUpStatus = strawberry.enum(followup_model.FollowUpStatus, description="Where a task is.")
FollowUpType = strawberry.enum(followup_model.FollowUpType, description="How to follow up.")
FollowUpOrigin = strawberry.enum(followup_model.FollowUpOrigin, description="Why it exists.")
ActivityKind = strawberry.enum(activity_model.ActivityKind, description="What kind of activity.")
DueWindow = strawberry.enum(DueWindowModel, description="Which of my follow-ups to list.")


@strawberry.enum(description="Timeline order: by occurrence time, then event id.")
class TimelineOrder(Enum):
    NEWEST_FIRST = "newest_first"
    OLDEST_FIRST = "oldest_first"


def masking(info: strawberry.Info) -> bool:
    return masks_contact_details(principal_of(info))


@strawberry.type(description="Someone who took part: one of our users or a customer contact.")
class Participant:
    kind: ParticipantKind  # type: ignore[valid-type]
    name: str
    ref_id: strawberry.ID | None = strawberry.field(description="User id or contact id")
    email: str | None = strawberry.field(description="Masked for analysts")
    phone: str | None = strawberry.field(description="Masked for analysts")

    @classmethod
    def from_model(cls, model: interaction_model.Participant, mask: bool) -> Participant:
        shown = interaction_model.masked(model) if mask else model
        return cls(
            kind=shown.kind,
            name=shown.name,
            ref_id=strawberry.ID(shown.ref_id) if shown.ref_id else None,
            email=shown.email,
            phone=shown.phone,
        )


@strawberry.type(description="A reference to a stored file (an attachment).")
class FileRef:
    file_id: strawberry.ID
    name: str
    content_type: str | None
    size_bytes: int | None


@strawberry.type(description="An appended correction; the original record is never rewritten.")
class Correction:
    id: strawberry.ID
    text: str
    author_id: strawberry.ID
    at: datetime


@strawberry.type(description="One touch with a customer: a call, visit, email, meeting or chat.")
class Interaction:
    id: strawberry.ID
    customer_id: strawberry.ID
    kind: InteractionKind  # type: ignore[valid-type]
    occurred_at: datetime
    content: str
    feedback: str | None = strawberry.field(description="What the customer said back")
    objections: str | None
    next_steps: str | None = strawberry.field(description="What was agreed to do next")
    participants: list[Participant]
    attachments: list[FileRef]
    corrections: list[Correction]
    owner_id: strawberry.ID = strawberry.field(description="Who logged it")
    created_at: datetime
    edited_at: datetime | None
    follow_up_id: strawberry.ID | None = strawberry.field(
        description="The follow-up whose completion logged it"
    )

    @classmethod
    def from_model(cls, model: interaction_model.Interaction, mask: bool = False) -> Interaction:
        return cls(
            id=strawberry.ID(model.id),
            customer_id=strawberry.ID(model.customer_id),
            kind=model.kind,
            occurred_at=model.occurred_at,
            content=model.content,
            feedback=model.feedback,
            objections=model.objections,
            next_steps=model.next_steps,
            participants=[Participant.from_model(p, mask) for p in model.participants],
            attachments=[
                FileRef(
                    file_id=strawberry.ID(f.file_id),
                    name=f.name,
                    content_type=f.content_type,
                    size_bytes=f.size_bytes,
                )
                for f in model.attachments
            ],
            corrections=[
                Correction(
                    id=strawberry.ID(c.id),
                    text=c.text,
                    author_id=strawberry.ID(c.author_id),
                    at=c.at,
                )
                for c in model.corrections
            ],
            owner_id=strawberry.ID(model.owner_id),
            created_at=model.created_at,
            edited_at=model.edited_at,
            follow_up_id=strawberry.ID(model.followup_id) if model.followup_id else None,
        )


@strawberry.type(description="A follow-up task with a customer.")
class FollowUp:
    id: strawberry.ID
    customer_id: strawberry.ID
    type: FollowUpType  # type: ignore[valid-type]
    due_at: datetime
    remind_at: datetime = strawberry.field(description="When the reminder (followup.due) fires")
    priority: Priority  # type: ignore[valid-type]
    goal: str
    assignee_id: strawberry.ID
    status: FollowUpStatus  # type: ignore[valid-type]
    origin: FollowUpOrigin  # type: ignore[valid-type]
    created_by: strawberry.ID
    created_at: datetime
    completed_at: datetime | None
    outcome: str | None
    interaction_id: strawberry.ID | None = strawberry.field(
        description="The interaction its completion logged"
    )

    @classmethod
    def from_model(cls, model: followup_model.FollowUp) -> FollowUp:
        return cls(
            id=strawberry.ID(model.id),
            customer_id=strawberry.ID(model.customer_id),
            type=model.type,
            due_at=model.due_at,
            remind_at=model.remind_at,
            priority=model.priority,
            goal=model.goal,
            assignee_id=strawberry.ID(model.assignee_id),
            status=model.status,
            origin=model.origin,
            created_by=strawberry.ID(model.created_by),
            created_at=model.created_at,
            completed_at=model.completed_at,
            outcome=model.outcome,
            interaction_id=strawberry.ID(model.interaction_id) if model.interaction_id else None,
        )


@strawberry.type(description="An event, training, exhibition or webinar.")
class Activity:
    id: strawberry.ID
    kind: ActivityKind  # type: ignore[valid-type]
    title: str
    starts_at: datetime
    ends_at: datetime | None
    location: str | None
    created_by: strawberry.ID
    created_at: datetime

    @classmethod
    def from_model(cls, model: activity_model.Activity) -> Activity:
        return cls(
            id=strawberry.ID(model.id),
            kind=model.kind,
            title=model.title,
            starts_at=model.starts_at,
            ends_at=model.ends_at,
            location=model.location,
            created_by=strawberry.ID(model.created_by),
            created_at=model.created_at,
        )


@strawberry.type(description="A customer (and optionally a contact) registered for an activity.")
class ActivityRegistration:
    id: strawberry.ID
    activity_id: strawberry.ID
    customer_id: strawberry.ID
    contact: Participant | None
    registered_by: strawberry.ID
    registered_at: datetime
    attended: bool | None = strawberry.field(description="Null until attendance is recorded")
    attendance_recorded_at: datetime | None

    @strawberry.field(description="The activity registered for")
    async def activity(self, info: strawberry.Info) -> Activity | None:
        found = await activity_loader(info).load(str(self.activity_id))
        return Activity.from_model(found) if found else None

    @classmethod
    def from_model(cls, model: activity_model.Registration, mask: bool) -> ActivityRegistration:
        return cls(
            id=strawberry.ID(model.id),
            activity_id=strawberry.ID(model.activity_id),
            customer_id=strawberry.ID(model.customer_id),
            contact=Participant.from_model(model.contact, mask) if model.contact else None,
            registered_by=strawberry.ID(model.registered_by),
            registered_at=model.registered_at,
            attended=model.attended,
            attendance_recorded_at=model.attendance_recorded_at,
        )


@strawberry.type(description="Something that happened to the customer, in any service.")
class TimelineEntry:
    id: strawberry.ID = strawberry.field(description="The event id")
    type: str = strawberry.field(description="CloudEvents type, e.g. crm.customer.created")
    service: str
    source: str
    occurred_at: datetime
    data: JSON = strawberry.field(
        description="The event body (contact details masked for analysts)"
    )

    @classmethod
    def from_model(cls, model: timeline_model.TimelineEntry, mask: bool) -> TimelineEntry:
        return cls(
            id=strawberry.ID(model.event_id),
            type=model.type,
            service=timeline_model.service_of(model.type),
            source=model.source,
            occurred_at=model.occurred_at,
            data=JSON(timeline_model.mask_contact_details(model.data) if mask else model.data),
        )


@strawberry.type(description="When to touch the customer next, from its priority's cadence.")
class FollowUpProposal:
    customer_id: strawberry.ID
    priority: Priority  # type: ignore[valid-type]
    interval_days: int
    due_at: datetime
    based_on_interaction_at: datetime | None

    @classmethod
    def from_model(cls, model: followup_model.CadenceProposal) -> FollowUpProposal:
        return cls(
            customer_id=strawberry.ID(model.customer_id),
            priority=model.priority,
            interval_days=model.interval.days,
            due_at=model.due_at,
            based_on_interaction_at=model.based_on,
        )


@strawberry.type(description="Per-tenant engagement settings.")
class EngagementSettings:
    high_interval_days: int
    medium_interval_days: int
    low_interval_days: int
    edit_grace_minutes: int
    reminder_lead_minutes: int

    @classmethod
    def from_model(cls, model: followup_model.EngagementSettings) -> EngagementSettings:
        return cls(
            high_interval_days=model.high_interval_days,
            medium_interval_days=model.medium_interval_days,
            low_interval_days=model.low_interval_days,
            edit_grace_minutes=model.edit_grace_minutes,
            reminder_lead_minutes=model.reminder_lead_minutes,
        )


@strawberry.federation.type(keys=["id"], description="A customer, as engagement sees it.")
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        # Nothing to load: the fields below read by customer id and check access themselves.
        return cls(id=id)

    @strawberry.field(description="When the latest interaction happened (null if none).")
    async def last_interaction_at(self, info: strawberry.Info) -> datetime | None:
        return await last_interaction_loader(info).load(str(self.id))

    @strawberry.field(description="Interactions with this customer, newest first.")
    async def interactions(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Interaction]:
        mask = masking(info)
        if after is None:
            size = 20 if first is None else first
            page = await first_interactions_loader(info, size).load(str(self.id))
        else:
            service = services_of(info).interactions(principal_of(info))
            page = await service.for_customer(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, lambda m: Interaction.from_model(m, mask))

    @strawberry.field(description="Follow-ups with this customer, soonest due first.")
    async def follow_ups(
        self,
        info: strawberry.Info,
        status: list[FollowUpStatus] | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[FollowUp]:
        service = services_of(info).followups(principal_of(info))
        page = await service.for_customer(
            str(self.id), tuple(status or ()), PageRequest(first=first, after=after)
        )
        return to_connection(page, FollowUp.from_model)

    @strawberry.field(description="Activities this customer registered for, newest first.")
    async def activities(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[ActivityRegistration]:
        mask = masking(info)
        service = services_of(info).activities(principal_of(info))
        page = await service.for_customer(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, lambda m: ActivityRegistration.from_model(m, mask))

    @strawberry.field(description="Everything that happened to the customer, across services.")
    async def timeline(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        types: list[str] | None = None,
        order: TimelineOrder = TimelineOrder.NEWEST_FIRST,
    ) -> Connection[TimelineEntry]:
        mask = masking(info)
        service = services_of(info).timeline(principal_of(info))
        page = await service.for_customer(
            str(self.id),
            types,
            PageRequest(first=first, after=after),
            newest_first=order is TimelineOrder.NEWEST_FIRST,
        )
        return to_connection(page, lambda m: TimelineEntry.from_model(m, mask))


# --- inputs and payloads --------------------------------------------------------------------


@strawberry.input(description="A participant: a user (refId = user id) or a customer contact.")
class ParticipantInput:
    kind: ParticipantKind  # type: ignore[valid-type]
    name: str
    ref_id: strawberry.ID | None = None
    email: str | None = None
    phone: str | None = None

    def to_model(self) -> interaction_model.Participant:
        return interaction_model.Participant(
            kind=self.kind,
            name=self.name,
            ref_id=str(self.ref_id) if self.ref_id else None,
            email=self.email,
            phone=self.phone,
        )


@strawberry.input(description="A reference to a stored file.")
class FileRefInput:
    file_id: strawberry.ID
    name: str
    content_type: str | None = None
    size_bytes: int | None = None

    def to_model(self) -> interaction_model.FileRef:
        return interaction_model.FileRef(
            file_id=str(self.file_id),
            name=self.name,
            content_type=self.content_type,
            size_bytes=self.size_bytes,
        )


@strawberry.input(description="A touch with a customer to record.")
class LogInteractionInput:
    customer_id: strawberry.ID
    kind: InteractionKind  # type: ignore[valid-type]
    content: str
    occurred_at: datetime | None = strawberry.field(default=None, description="Defaults to now")
    feedback: str | None = None
    objections: str | None = None
    next_steps: str | None = None
    participants: list[ParticipantInput] = strawberry.field(default_factory=list)
    attachments: list[FileRefInput] = strawberry.field(default_factory=list)


@strawberry.type
class LogInteractionPayload:
    interaction: Interaction
    proposed_follow_up: FollowUpProposal | None = strawberry.field(
        description="The next follow-up the cadence proposes (see scheduleProposedFollowUp)"
    )


@strawberry.input(description="Changes within the edit grace period; omitted fields stay.")
class EditInteractionInput:
    id: strawberry.ID
    content: str | None = None
    occurred_at: datetime | None = None
    feedback: str | None = None
    objections: str | None = None
    next_steps: str | None = None
    participants: list[ParticipantInput] | None = None
    attachments: list[FileRefInput] | None = None


@strawberry.input(description="A correction appended to an interaction.")
class CorrectInteractionInput:
    id: strawberry.ID
    text: str


@strawberry.type
class InteractionPayload:
    interaction: Interaction


@strawberry.input(description="Which interactions: per customer, per owner, per period, kind.")
class InteractionFilter:
    customer_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    kind: InteractionKind | None = None  # type: ignore[valid-type]


@strawberry.input(description="A follow-up to plan.")
class ScheduleFollowUpInput:
    customer_id: strawberry.ID
    type: FollowUpType  # type: ignore[valid-type]
    due_at: datetime
    goal: str
    priority: Priority = followup_model.Priority.MEDIUM  # type: ignore[valid-type]
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="Default: me")


@strawberry.input(description="Create the follow-up the cadence proposes for a customer.")
class ScheduleProposedFollowUpInput:
    customer_id: strawberry.ID
    type: FollowUpType = followup_model.FollowUpType.PHONE_CALL  # type: ignore[valid-type]
    goal: str | None = None


@strawberry.type
class FollowUpPayload:
    follow_up: FollowUp


@strawberry.input(description="Finish a follow-up; the outcome is logged as an interaction.")
class CompleteFollowUpInput:
    id: strawberry.ID
    outcome: str
    kind: InteractionKind | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Interaction kind; default: the task's type"
    )


@strawberry.type
class CompleteFollowUpPayload:
    follow_up: FollowUp
    interaction: Interaction


@strawberry.input
class CancelFollowUpInput:
    id: strawberry.ID


@strawberry.input(description="An activity to organise.")
class CreateActivityInput:
    kind: ActivityKind  # type: ignore[valid-type]
    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    location: str | None = None


@strawberry.type
class ActivityPayload:
    activity: Activity


@strawberry.input(description="Register a customer (and optionally one contact) for an activity.")
class RegisterForActivityInput:
    activity_id: strawberry.ID
    customer_id: strawberry.ID
    contact: ParticipantInput | None = None


@strawberry.input(description="Whether a registration attended.")
class RecordAttendanceInput:
    id: strawberry.ID
    attended: bool = True


@strawberry.type
class RegistrationPayload:
    registration: ActivityRegistration


@strawberry.input(description="Per-tenant settings; omitted fields stay as they are.")
class UpdateEngagementSettingsInput:
    high_interval_days: int | None = None
    medium_interval_days: int | None = None
    low_interval_days: int | None = None
    edit_grace_minutes: int | None = None
    reminder_lead_minutes: int | None = None


@strawberry.type
class EngagementSettingsPayload:
    settings: EngagementSettings


@strawberry.input(description="How often a customer should be touched.")
class SetCustomerPriorityInput:
    customer_id: strawberry.ID
    priority: Priority  # type: ignore[valid-type]


@strawberry.type
class SetCustomerPriorityPayload:
    customer_id: strawberry.ID
    priority: Priority  # type: ignore[valid-type]
    proposed_follow_up: FollowUpProposal
