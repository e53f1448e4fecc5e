"""GraphQL types of the engagement subgraph."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from crm_common.graphql.relay import Connection, PageInfo, to_connection
from crm_common.pagination import Page, PageRequest
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.api.loaders import (
    activity_loader,
    first_interactions_loader,
    last_interaction_loader,
)
from crm_engagement.domain import activity as activity_model
from crm_engagement.domain import care as care_model
from crm_engagement.domain import followup as followup_model
from crm_engagement.domain import interaction as interaction_model
from crm_engagement.domain import timeline as timeline_model
from crm_engagement.domain.permissions import masks_contact_details
from crm_engagement.domain.timeliness import RepTimeliness as RepTimelinessModel
from crm_engagement.domain.timeliness import TimelinessReport, is_late_entry
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
Attendance = strawberry.enum(
    activity_model.Attendance,
    description=(
        "Which registrations count: REGISTERED (any), ATTENDED, NO_SHOW (attendance recorded as"
        " not attended), PENDING (attendance not recorded yet)."
    ),
)
DueWindow = strawberry.enum(DueWindowModel, description="Which of my follow-ups to list.")


@strawberry.enum(description="Timeline order: by occurrence time, then event id.")
class TimelineOrder(Enum):
    NEWEST_FIRST = "newest_first"
    OLDEST_FIRST = "oldest_first"


def masking(info: strawberry.Info) -> bool:
    return masks_contact_details(principal_of(info))


@strawberry.type(description="Someone who took part: one of our users or a customer contact.")
class Participant:
    kind: ParticipantKind = strawberry.field(description="A user of ours or a customer contact.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="The person's name.")
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
    file_id: strawberry.ID = strawberry.field(description="Id of the stored file.")
    name: str = strawberry.field(description="File name shown to users.")
    content_type: str | None = strawberry.field(
        description="MIME type, e.g. application/pdf; null if unknown."
    )
    size_bytes: int | None = strawberry.field(description="Size in bytes; null if unknown.")


@strawberry.type(description="An appended correction; the original record is never rewritten.")
class Correction:
    id: strawberry.ID = strawberry.field(description="Stable id of the correction.")
    text: str = strawberry.field(description="The correction text.")
    author_id: strawberry.ID = strawberry.field(description="User id of who wrote the correction.")
    at: datetime = strawberry.field(description="When it was added (ISO 8601, UTC).")


@strawberry.type(description="One touch with a customer: a call, visit, email, meeting or chat.")
class Interaction:
    id: strawberry.ID = strawberry.field(description="Stable id of the interaction.")
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer it was with.")
    kind: InteractionKind = strawberry.field(description="How the customer was reached.")  # type: ignore[valid-type]
    occurred_at: datetime = strawberry.field(description="When it happened (ISO 8601, UTC).")
    content: str = strawberry.field(description="Summary of what happened.")
    feedback: str | None = strawberry.field(description="What the customer said back")
    objections: str | None = strawberry.field(
        description="Objections the customer raised; null if none recorded."
    )
    next_steps: str | None = strawberry.field(description="What was agreed to do next")
    participants: list[Participant] = strawberry.field(
        description="Who took part; contact details masked for analysts."
    )
    attachments: list[FileRef] = strawberry.field(description="Files attached to the record.")
    corrections: list[Correction] = strawberry.field(
        description="Corrections appended later, oldest first."
    )
    owner_id: strawberry.ID = strawberry.field(description="Who logged it")
    created_at: datetime = strawberry.field(description="When it was logged (ISO 8601, UTC).")
    edited_at: datetime | None = strawberry.field(
        description="When it was last edited (ISO 8601, UTC); null if never."
    )
    follow_up_id: strawberry.ID | None = strawberry.field(
        description="The follow-up whose completion logged it"
    )
    entered_late: bool = strawberry.field(
        description=(
            "True when it was entered (createdAt) more than 24 h after it happened (occurredAt):"
            " the 24-hour rule; counted per rep in `entryTimeliness`."
        )
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
            entered_late=is_late_entry(model.occurred_at, model.created_at),
        )


@strawberry.type(description="A follow-up task with a customer.")
class FollowUp:
    id: strawberry.ID = strawberry.field(description="Stable id of the follow-up.")
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer to follow up with."
    )
    type: FollowUpType = strawberry.field(description="How to follow up (call, visit, ...).")  # type: ignore[valid-type]
    due_at: datetime = strawberry.field(description="When it is due (ISO 8601, UTC).")
    remind_at: datetime = strawberry.field(description="When the reminder (followup.due) fires")
    priority: Priority = strawberry.field(description="How urgent it is.")  # type: ignore[valid-type]
    goal: str = strawberry.field(description="What the follow-up should achieve.")
    assignee_id: strawberry.ID = strawberry.field(description="User id of who must do it.")
    status: FollowUpStatus = strawberry.field(description="Open, done or cancelled.")  # type: ignore[valid-type]
    origin: FollowUpOrigin = strawberry.field(  # type: ignore[valid-type]
        description="Why it exists (planned by hand, from the cadence, from a churn risk)."
    )
    created_by: strawberry.ID = strawberry.field(
        description="User id of who created it (or the service, for automatic ones)."
    )
    created_at: datetime = strawberry.field(description="When it was created (ISO 8601, UTC).")
    completed_at: datetime | None = strawberry.field(
        description="When it was completed (ISO 8601, UTC); null while open."
    )
    outcome: str | None = strawberry.field(description="What came of it; null until completed.")
    interaction_id: strawberry.ID | None = strawberry.field(
        description="The interaction its completion logged"
    )

    participant_ids: list[strawberry.ID] = strawberry.field(
        description=(
            "Colleagues who joined (user ids): they see the follow-up and are reminded with"
            " the assignee."
        )
    )
    campaign_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The touch campaign (planTouches, touchCampaigns) this follow-up belongs to;"
            " null for other origins."
        ),
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
            participant_ids=[strawberry.ID(p) for p in model.participant_ids],
            campaign_id=(
                strawberry.ID(model.origin_event_id)
                if model.origin in _TOUCH_ORIGINS and model.origin_event_id
                else None
            ),
        )


_TOUCH_ORIGINS = (
    followup_model.FollowUpOrigin.HOLIDAY_CARE,
    followup_model.FollowUpOrigin.CONTENT_PUSH,
)


@strawberry.type(description="An event, training, exhibition or webinar.")
class Activity:
    id: strawberry.ID = strawberry.field(description="Stable id of the activity.")
    kind: ActivityKind = strawberry.field(description="What kind of activity it is.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="Name of the activity shown to users.")
    starts_at: datetime = strawberry.field(description="When it starts (ISO 8601, UTC).")
    ends_at: datetime | None = strawberry.field(
        description="When it ends (ISO 8601, UTC); null if open-ended."
    )
    location: str | None = strawberry.field(description="Venue or meeting link; null if not given.")
    created_by: strawberry.ID = strawberry.field(
        description="User id of the organiser who created it."
    )
    created_at: datetime = strawberry.field(description="When it was created (ISO 8601, UTC).")

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
    id: strawberry.ID = strawberry.field(description="Stable id of the registration.")
    activity_id: strawberry.ID = strawberry.field(description="Id of the activity registered for.")
    customer_id: strawberry.ID = strawberry.field(description="Id of the registered customer.")
    contact: Participant | None = strawberry.field(
        description="The contact who attends; null if none was named (details masked for analysts)."
    )
    registered_by: strawberry.ID = strawberry.field(
        description="User id of who registered the customer."
    )
    registered_at: datetime = strawberry.field(
        description="When the registration was made (ISO 8601, UTC)."
    )
    attended: bool | None = strawberry.field(description="Null until attendance is recorded")
    attendance_recorded_at: datetime | None = strawberry.field(
        description="When attendance was recorded (ISO 8601, UTC); null until then."
    )

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
    service: str = strawberry.field(
        description="Service that produced the event, e.g. customer or quoting."
    )
    source: str = strawberry.field(
        description="CloudEvents source of the event (the producing service instance)."
    )
    occurred_at: datetime = strawberry.field(description="When it happened (ISO 8601, UTC).")
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


@strawberry.type(
    description="When to touch the customer next, from its priority's interval and the "
    "customer's follow-up cadence."
)
class FollowUpProposal:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer the proposal is for."
    )
    priority: Priority = strawberry.field(  # type: ignore[valid-type]
        description="The customer's priority, which sets the interval."
    )
    interval_days: int = strawberry.field(
        description="Days between touches for that priority (tenant setting)."
    )
    due_at: datetime = strawberry.field(
        description="Proposed due time: the last interaction plus the interval (ISO 8601, UTC)."
    )
    based_on_interaction_at: datetime | None = strawberry.field(
        description="When the interaction counted from happened; null if none yet."
    )
    engagement_cadence: str | None = strawberry.field(
        description="The customer's follow-up cadence the interval was adapted to: INTENSIVE "
        "(half the priority's interval), OBSERVATION (the observation period: twice it) or "
        "NORMAL; null if none was set."
    )

    @classmethod
    def from_model(cls, model: followup_model.CadenceProposal) -> FollowUpProposal:
        return cls(
            customer_id=strawberry.ID(model.customer_id),
            priority=model.priority,
            interval_days=model.interval.days,
            due_at=model.due_at,
            based_on_interaction_at=model.based_on,
            engagement_cadence=model.cadence,
        )


@strawberry.type(description="Per-tenant engagement settings.")
class EngagementSettings:
    high_interval_days: int = strawberry.field(
        description="Days between touches for HIGH-priority customers (default 7)."
    )
    medium_interval_days: int = strawberry.field(
        description="Days between touches for MEDIUM-priority customers (default 14)."
    )
    low_interval_days: int = strawberry.field(
        description="Days between touches for LOW-priority customers (default 30)."
    )
    edit_grace_minutes: int = strawberry.field(
        description="Minutes an author may still edit an interaction (default 30)."
    )
    reminder_lead_minutes: int = strawberry.field(
        description="Minutes before dueAt that the follow-up reminder fires (default 60)."
    )

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
    id: strawberry.ID = strawberry.field(
        description="Id of the customer (owned by the customer service)."
    )

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
    kind: ParticipantKind = strawberry.field(description="A user of ours or a customer contact.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="The person's name (not blank).")
    ref_id: strawberry.ID | None = strawberry.field(
        default=None, description="User id (for a user) or contact id (for a contact), if known."
    )
    email: str | None = strawberry.field(default=None, description="Email address; validated.")
    phone: str | None = strawberry.field(default=None, description="Phone number; validated.")

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
    file_id: strawberry.ID = strawberry.field(description="Id of the stored file.")
    name: str = strawberry.field(description="File name shown to users.")
    content_type: str | None = strawberry.field(
        default=None, description="MIME type, e.g. application/pdf."
    )
    size_bytes: int | None = strawberry.field(default=None, description="Size in bytes.")

    def to_model(self) -> interaction_model.FileRef:
        return interaction_model.FileRef(
            file_id=str(self.file_id),
            name=self.name,
            content_type=self.content_type,
            size_bytes=self.size_bytes,
        )


@strawberry.input(description="A touch with a customer to record.")
class LogInteractionInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer the touch was with."
    )
    kind: InteractionKind = strawberry.field(description="How the customer was reached.")  # type: ignore[valid-type]
    content: str = strawberry.field(description="Summary of what happened (not blank).")
    occurred_at: datetime | None = strawberry.field(default=None, description="Defaults to now")
    feedback: str | None = strawberry.field(
        default=None, description="What the customer said back."
    )
    objections: str | None = strawberry.field(
        default=None, description="Objections the customer raised."
    )
    next_steps: str | None = strawberry.field(
        default=None, description="What was agreed to do next."
    )
    participants: list[ParticipantInput] = strawberry.field(
        default_factory=list, description="Who took part: our users and customer contacts."
    )
    attachments: list[FileRefInput] = strawberry.field(
        default_factory=list, description="Files already uploaded, to attach."
    )


@strawberry.type(description="The logged interaction and the next follow-up the cadence proposes.")
class LogInteractionPayload:
    interaction: Interaction = strawberry.field(description="The interaction as stored.")
    proposed_follow_up: FollowUpProposal | None = strawberry.field(
        description="The next follow-up the cadence proposes (see scheduleProposedFollowUp)"
    )


@strawberry.input(description="Changes within the edit grace period; omitted fields stay.")
class EditInteractionInput:
    id: strawberry.ID = strawberry.field(
        description="Id of your interaction, within the edit grace period."
    )
    content: str | None = strawberry.field(
        default=None, description="New summary of what happened; null keeps it."
    )
    occurred_at: datetime | None = strawberry.field(
        default=None, description="New time it happened (ISO 8601); null keeps it."
    )
    feedback: str | None = strawberry.field(
        default=None, description="New customer feedback; null keeps it."
    )
    objections: str | None = strawberry.field(
        default=None, description="New objections; null keeps them."
    )
    next_steps: str | None = strawberry.field(
        default=None, description="New agreed next steps; null keeps them."
    )
    participants: list[ParticipantInput] | None = strawberry.field(
        default=None, description="The full new participant list; null keeps it."
    )
    attachments: list[FileRefInput] | None = strawberry.field(
        default=None, description="The full new attachment list; null keeps it."
    )


@strawberry.input(description="A correction appended to an interaction.")
class CorrectInteractionInput:
    id: strawberry.ID = strawberry.field(description="Id of the interaction to correct.")
    text: str = strawberry.field(
        description="The correction text; appended, the original stays as it was."
    )


@strawberry.type(description="The interaction after the change.")
class InteractionPayload:
    interaction: Interaction = strawberry.field(description="The interaction as stored.")


@strawberry.input(description="Which interactions: per customer, per owner, per period, kind.")
class InteractionFilter:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only interactions with this customer."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only interactions logged by this user."
    )
    occurred_from: datetime | None = strawberry.field(
        default=None, description="Only those that happened at or after this time (ISO 8601)."
    )
    occurred_to: datetime | None = strawberry.field(
        default=None, description="Only those that happened at or before this time (ISO 8601)."
    )
    kind: InteractionKind | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only interactions of this kind."
    )


@strawberry.input(description="A follow-up to plan.")
class ScheduleFollowUpInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer to follow up with."
    )
    type: FollowUpType = strawberry.field(description="How to follow up.")  # type: ignore[valid-type]
    due_at: datetime = strawberry.field(
        description="When it is due (ISO 8601 with offset); not in the past."
    )
    goal: str = strawberry.field(description="What it should achieve (1-1000 characters).")
    priority: Priority = strawberry.field(  # type: ignore[valid-type]
        default=followup_model.Priority.MEDIUM, description="How urgent it is; MEDIUM if not given."
    )
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="Default: me")
    participant_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Colleagues who join (user ids, at most 20): they see it and are reminded.",
    )


@strawberry.input(description="Colleagues join or leave a follow-up.")
class ChangeFollowUpParticipantsInput:
    id: strawberry.ID = strawberry.field(description="Id of the follow-up.")
    add: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="User ids who join (at most 20 participants in all)."
    )
    remove: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="User ids who leave."
    )


@strawberry.input(description="Create the follow-up the cadence proposes for a customer.")
class ScheduleProposedFollowUpInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer whose proposed follow-up to create."
    )
    type: FollowUpType = strawberry.field(  # type: ignore[valid-type]
        default=followup_model.FollowUpType.PHONE_CALL,
        description="How to follow up; PHONE_CALL if not given.",
    )
    goal: str | None = strawberry.field(
        default=None, description="What it should achieve; a default goal from the cadence if null."
    )


@strawberry.type(description="The follow-up after the change.")
class FollowUpPayload:
    follow_up: FollowUp = strawberry.field(description="The follow-up as stored.")


@strawberry.input(description="Finish a follow-up; the outcome is logged as an interaction.")
class CompleteFollowUpInput:
    id: strawberry.ID = strawberry.field(description="Id of the open follow-up to complete.")
    outcome: str = strawberry.field(
        description="What came of it (not blank); logged with the goal as an interaction."
    )
    kind: InteractionKind | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Interaction kind; default: the task's type"
    )


@strawberry.type(description="The completed follow-up and the interaction it logged.")
class CompleteFollowUpPayload:
    follow_up: FollowUp = strawberry.field(description="The follow-up, now DONE.")
    interaction: Interaction = strawberry.field(
        description="The interaction logged from the outcome."
    )


@strawberry.input(description="Cancel an open follow-up.")
class CancelFollowUpInput:
    id: strawberry.ID = strawberry.field(description="Id of the follow-up to cancel.")


@strawberry.input(description="An activity to organise.")
class CreateActivityInput:
    kind: ActivityKind = strawberry.field(description="What kind of activity it is.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="Name shown to users (not blank).")
    starts_at: datetime = strawberry.field(description="Start (ISO 8601 with offset).")
    ends_at: datetime | None = strawberry.field(
        default=None, description="End (ISO 8601 with offset), after startsAt; null if open-ended."
    )
    location: str | None = strawberry.field(default=None, description="Venue or meeting link.")


@strawberry.type(description="The activity as stored.")
class ActivityPayload:
    activity: Activity = strawberry.field(description="The new activity.")


@strawberry.input(description="Register a customer (and optionally one contact) for an activity.")
class RegisterForActivityInput:
    activity_id: strawberry.ID = strawberry.field(description="Id of the activity.")
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer to register.")
    contact: ParticipantInput | None = strawberry.field(
        default=None, description="The contact who will attend, if known."
    )


@strawberry.input(description="Whether a registration attended.")
class RecordAttendanceInput:
    id: strawberry.ID = strawberry.field(description="Id of the registration.")
    attended: bool = strawberry.field(
        default=True, description="Whether they came; true if not given."
    )


@strawberry.type(description="The registration after the change.")
class RegistrationPayload:
    registration: ActivityRegistration = strawberry.field(description="The registration as stored.")


@strawberry.input(description="Per-tenant settings; omitted fields stay as they are.")
class UpdateEngagementSettingsInput:
    high_interval_days: int | None = strawberry.field(
        default=None, description="Days between touches for HIGH priority (1-365)."
    )
    medium_interval_days: int | None = strawberry.field(
        default=None, description="Days between touches for MEDIUM priority (1-365)."
    )
    low_interval_days: int | None = strawberry.field(
        default=None, description="Days between touches for LOW priority (1-365)."
    )
    edit_grace_minutes: int | None = strawberry.field(
        default=None, description="Minutes an author may edit an interaction (0-10080)."
    )
    reminder_lead_minutes: int | None = strawberry.field(
        default=None, description="Minutes before dueAt the reminder fires (0-10080)."
    )


@strawberry.type(description="The tenant's engagement settings after the change.")
class EngagementSettingsPayload:
    settings: EngagementSettings = strawberry.field(description="The settings now in force.")


@strawberry.input(description="How often a customer should be touched.")
class SetCustomerPriorityInput:
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer.")
    priority: Priority = strawberry.field(  # type: ignore[valid-type]
        description="The new priority, which sets the follow-up cadence."
    )


@strawberry.type(description="The customer's new priority and the follow-up its cadence proposes.")
class SetCustomerPriorityPayload:
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer.")
    priority: Priority = strawberry.field(description="The priority now in force.")  # type: ignore[valid-type]
    proposed_follow_up: FollowUpProposal = strawberry.field(
        description="The next follow-up the new cadence proposes (not yet scheduled)."
    )


@strawberry.input(description="Customers by activity attendance: one activity or one kind.")
class ActivityAttendanceFilter:
    activity_id: strawberry.ID | None = strawberry.field(
        default=None, description="This activity (give this or activityKind, not both)."
    )
    activity_kind: ActivityKind | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Any activity of this kind (the newest 1000 of the kind are looked at).",
    )
    attendance: Attendance = strawberry.field(  # type: ignore[valid-type]
        default=activity_model.Attendance.REGISTERED,
        description="Which registrations count (default REGISTERED: all of them).",
    )


@strawberry.type(description="One customer of an attendance list and its cursor.")
class ActivityCustomerEdge:
    node: Customer = strawberry.field(
        description="The customer (its fields are resolved by the customer service)."
    )
    cursor: str = strawberry.field(description="Opaque position of this item; pass as `after`.")


@strawberry.type(description="A page of customers by activity attendance, in customer id order.")
class ActivityCustomerConnection:
    edges: list[ActivityCustomerEdge] = strawberry.field(description="The customers of this page.")
    page_info: PageInfo = strawberry.field(description="Cursors; this list pages forward only.")
    total_count: int = strawberry.field(description="How many customers match, over all pages.")

    @classmethod
    def from_page(cls, page: Page[str]) -> ActivityCustomerConnection:
        edges = [
            ActivityCustomerEdge(node=Customer(id=strawberry.ID(cid)), cursor=cursor)
            for cid, cursor in page.items
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total_count,
        )


@strawberry.input(description="A period of time (at most 366 days).")
class PeriodInput:
    from_: datetime = strawberry.field(name="from", description="Start (inclusive, ISO 8601).")
    to: datetime = strawberry.field(description="End (inclusive, ISO 8601).")


@strawberry.type(description="One rep's figures under the 24-hour rules over a period.")
class RepTimeliness:
    rep_id: strawberry.ID = strawberry.field(description="User id of the rep.")
    entries_on_time: int = strawberry.field(
        description="Interactions (happened in the period) entered within 24 h."
    )
    entries_late: int = strawberry.field(
        description="Interactions (happened in the period) entered more than 24 h later."
    )
    contacts_on_time: int = strawberry.field(
        description=(
            "Customers first touched by this rep in the period whose first contact person was"
            " registered before or within 24 h of the first touch."
        )
    )
    contacts_late: int = strawberry.field(
        description="Of those, first contact person registered more than 24 h after."
    )
    contacts_missing: int = strawberry.field(
        description="Of those, no contact person yet and the 24 h have passed."
    )
    contacts_pending: int = strawberry.field(
        description="Of those, no contact person yet, still within the 24 h."
    )

    @classmethod
    def from_model(cls, m: RepTimelinessModel) -> RepTimeliness:
        return cls(
            rep_id=strawberry.ID(m.rep_id),
            entries_on_time=m.entries_on_time,
            entries_late=m.entries_late,
            contacts_on_time=m.contacts_on_time,
            contacts_late=m.contacts_late,
            contacts_missing=m.contacts_missing,
            contacts_pending=m.contacts_pending,
        )


@strawberry.type(description="The 24-hour rules per rep: record entry and contact registration.")
class EntryTimelinessReport:
    period_from: datetime = strawberry.field(description="Start of the period (UTC).")
    period_to: datetime = strawberry.field(description="End of the period (UTC).")
    reps: list[RepTimeliness] = strawberry.field(description="One row per rep, by rep id.")

    @classmethod
    def from_model(cls, m: TimelinessReport) -> EntryTimelinessReport:
        return cls(
            period_from=m.period_from,
            period_to=m.period_to,
            reps=[RepTimeliness.from_model(m.reps[k]) for k in sorted(m.reps)],
        )


TouchKind = strawberry.enum(
    care_model.TouchKind,
    description=(
        "HOLIDAY_CARE: a holiday greeting (节日关怀); CONTENT_PUSH: industry news or upgrade notes."
    ),
)


@strawberry.type(description="How the long-term care visit plan after a deal is made (per tenant).")
class CarePlanSettings:
    enabled: bool = strawberry.field(description="False: no plan is made for new deals.")
    weekly_interval_days: int = strawberry.field(
        description="Days between visits in the first phase (default 7: weekly)."
    )
    first_phase_days: int = strawberry.field(
        description="How long the first phase lasts after the deal (default 30: a month)."
    )
    later_interval_days: int = strawberry.field(
        description="Days between visits after the first phase (default 91: quarterly)."
    )
    horizon_days: int = strawberry.field(
        description=(
            "How far ahead visits are created (default 365); finishing the last visit of a"
            " round creates the next one."
        )
    )

    @classmethod
    def from_model(cls, m: care_model.CarePlanSettings) -> CarePlanSettings:
        return cls(
            enabled=m.enabled,
            weekly_interval_days=m.weekly_interval_days,
            first_phase_days=m.first_phase_days,
            later_interval_days=m.later_interval_days,
            horizon_days=m.horizon_days,
        )


@strawberry.input(description="Change the care plan settings; fields left null stay as they are.")
class UpdateCarePlanSettingsInput:
    enabled: bool | None = strawberry.field(default=None, description="Make plans for new deals.")
    weekly_interval_days: int | None = strawberry.field(
        default=None, description="1-90 days between first-phase visits."
    )
    first_phase_days: int | None = strawberry.field(
        default=None, description="0-365 days of first phase (at most horizonDays)."
    )
    later_interval_days: int | None = strawberry.field(
        default=None, description="7-365 days between later visits."
    )
    horizon_days: int | None = strawberry.field(
        default=None, description="30-730 days of visits created ahead."
    )


@strawberry.type(description="The care plan settings after the change.")
class CarePlanSettingsPayload:
    settings: CarePlanSettings = strawberry.field(description="The settings now in force.")


@strawberry.input(
    description="Which customers: each non-empty list must match; empty lists match everyone."
)
class SegmentInput:
    customer_types: list[str] = strawberry.field(
        default_factory=list, description="Customer types, e.g. DEAL, LONG_TERM."
    )
    statuses: list[str] = strawberry.field(
        default_factory=list, description="Lifecycle statuses, e.g. DEAL."
    )
    teams: list[str] = strawberry.field(
        default_factory=list, description="Teams (a manager: only their own)."
    )
    owner_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Owners (user ids)."
    )
    regions: list[str] = strawberry.field(
        default_factory=list,
        description=(
            "Provinces, any of them (Chinese, pinyin or English names, e.g. 浙江省, zhejiang);"
            " an unknown one is refused."
        ),
    )
    industries: list[str] = strawberry.field(
        default_factory=list, description="Industries, any of them (exact, as on the profile)."
    )
    tags: list[str] = strawberry.field(
        default_factory=list, description="Tags: customers with any of them."
    )

    def to_model(self) -> care_model.Segment:
        return care_model.Segment(
            customer_types=tuple(self.customer_types),
            statuses=tuple(self.statuses),
            teams=tuple(self.teams),
            owner_ids=tuple(str(o) for o in self.owner_ids),
            regions=tuple(self.regions),
            industries=tuple(self.industries),
            tags=tuple(self.tags),
        )


@strawberry.input(description="Plan a holiday greeting or content push for a customer segment.")
class PlanTouchesInput:
    kind: TouchKind = strawberry.field(description="Holiday care or content push.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="What it is, e.g. 'Spring Festival greetings'.")
    message: str | None = strawberry.field(
        default=None, description="The text or content to pass on (up to 5000 characters)."
    )
    due_at: datetime = strawberry.field(description="When to make the touch; not in the past.")
    type: FollowUpType = strawberry.field(  # type: ignore[valid-type]
        default=followup_model.FollowUpType.PHONE_CALL,
        description="How to make it (call, email, visit, ...); PHONE_CALL if not given.",
    )
    segment: SegmentInput = strawberry.field(description="Which customers.")


@strawberry.type(description="Touches planned: one follow-up per customer of the segment.")
class PlanTouchesPayload:
    campaign_id: strawberry.ID = strawberry.field(
        description="Id of this planning (the follow-ups' origin id)."
    )
    kind: TouchKind = strawberry.field(description="Holiday care or content push.")  # type: ignore[valid-type]
    customers: int = strawberry.field(
        description="How many customers matched (one follow-up each, for their owner)."
    )
    created: int = strawberry.field(description="How many follow-ups were created.")


@strawberry.type(description="The customers a touch campaign was planned for.")
class TouchSegment:
    customer_types: list[str] = strawberry.field(description="Customer types (empty: any).")
    statuses: list[str] = strawberry.field(description="Lifecycle statuses (empty: any).")
    teams: list[str] = strawberry.field(description="Teams (empty: any).")
    owner_ids: list[strawberry.ID] = strawberry.field(description="Owners (empty: any).")
    regions: list[str] = strawberry.field(description="Provinces, canonical names (empty: any).")
    industries: list[str] = strawberry.field(description="Industries (empty: any).")
    tags: list[str] = strawberry.field(description="Tags, any of them (empty: any).")

    @classmethod
    def from_model(cls, m: care_model.Segment) -> TouchSegment:
        return cls(
            customer_types=list(m.customer_types),
            statuses=list(m.statuses),
            teams=list(m.teams),
            owner_ids=[strawberry.ID(o) for o in m.owner_ids],
            regions=list(m.regions),
            industries=list(m.industries),
            tags=list(m.tags),
        )


@strawberry.type(
    description=(
        "How far a touch campaign got: its follow-ups by status (planned = open + done +"
        " cancelled)."
    )
)
class TouchCampaignProgress:
    planned: int = strawberry.field(description="Follow-ups the campaign made.")
    open: int = strawberry.field(description="Not finished yet (overdue ones included).")
    overdue: int = strawberry.field(
        description="Of the open ones, those marked overdue (past due, seen by the reminders)."
    )
    done: int = strawberry.field(description="Completed (each recorded as an interaction).")
    cancelled: int = strawberry.field(description="Cancelled.")

    @classmethod
    def from_model(cls, m: care_model.CampaignProgress) -> TouchCampaignProgress:
        return cls(
            planned=m.planned, open=m.open, overdue=m.overdue, done=m.done, cancelled=m.cancelled
        )


@strawberry.type(description="One planning of touches (planTouches) and its progress.")
class TouchCampaign:
    id: strawberry.ID = strawberry.field(
        description="Id of the campaign (the campaignId of its follow-ups)."
    )
    kind: TouchKind = strawberry.field(description="Holiday care or content push.")  # type: ignore[valid-type]
    title: str = strawberry.field(description="What it is, as planned.")
    message: str | None = strawberry.field(description="The text passed on; null if none.")
    type: FollowUpType | None = strawberry.field(  # type: ignore[valid-type]
        description="How the touches are made (call, email, ...); null for older campaigns."
    )
    segment: TouchSegment = strawberry.field(description="The customers it was planned for.")
    due_at: datetime = strawberry.field(description="When the touches are due (UTC).")
    planned_by: strawberry.ID = strawberry.field(description="User id of who planned it.")
    planned_at: datetime = strawberry.field(description="When it was planned (UTC).")
    customers: int = strawberry.field(description="How many customers matched when planned.")
    progress: TouchCampaignProgress = strawberry.field(description="Its follow-ups by status, now.")

    @classmethod
    def from_model(
        cls, pair: tuple[care_model.TouchCampaign, care_model.CampaignProgress]
    ) -> TouchCampaign:
        m, progress = pair
        return cls(
            id=strawberry.ID(m.id),
            kind=m.kind,
            title=m.title,
            message=m.message,
            type=m.type,
            segment=TouchSegment.from_model(m.segment),
            due_at=m.due_at,
            planned_by=strawberry.ID(m.planned_by),
            planned_at=m.planned_at,
            customers=m.customers,
            progress=TouchCampaignProgress.from_model(progress),
        )
