"""Root fields of the engagement subgraph."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import strawberry
from strawberry.tools import merge_types

from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.pagination import PageRequest
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.api.notifications import NotificationMutation, NotificationQuery, Subscription
from crm_engagement.api.types import (
    Activity,
    ActivityAttendanceFilter,
    ActivityCustomerConnection,
    ActivityPayload,
    ActivityRegistration,
    CancelFollowUpInput,
    CarePlanSettings,
    CarePlanSettingsPayload,
    ChangeFollowUpParticipantsInput,
    CompleteFollowUpInput,
    CompleteFollowUpPayload,
    CorrectInteractionInput,
    CreateActivityInput,
    Customer,
    DueWindow,
    EditInteractionInput,
    EngagementSettings,
    EngagementSettingsPayload,
    EntryTimelinessReport,
    FollowUp,
    FollowUpPayload,
    FollowUpProposal,
    Interaction,
    InteractionFilter,
    InteractionPayload,
    LogInteractionInput,
    LogInteractionPayload,
    PeriodInput,
    PlanTouchesInput,
    PlanTouchesPayload,
    RecordAttendanceInput,
    RegisterForActivityInput,
    RegistrationPayload,
    ScheduleFollowUpInput,
    ScheduleProposedFollowUpInput,
    SetCustomerPriorityInput,
    SetCustomerPriorityPayload,
    TouchCampaign,
    UpdateCarePlanSettingsInput,
    UpdateEngagementSettingsInput,
    masking,
)
from crm_engagement.api.webhooks import WebhookMutation, WebhookQuery
from crm_engagement.service.activities import CreateActivityCommand
from crm_engagement.service.care import PlanTouchesCommand
from crm_engagement.service.followups import DueWindow as DueWindowModel
from crm_engagement.service.followups import ScheduleCommand
from crm_engagement.service.interactions import EditInteractionCommand, LogInteractionCommand


@strawberry.type
class Query:
    @strawberry.field(description="One interaction by id; null if absent or not yours to see.")
    async def interaction(self, info: strawberry.Info, id: strawberry.ID) -> Interaction | None:
        service = services_of(info).interactions(principal_of(info))
        found = await service.get(str(id))
        return Interaction.from_model(found, masking(info)) if found else None

    @strawberry.field(
        description="Interactions you may see, newest first; filter per customer, owner, period."
    )
    async def interactions(
        self,
        info: strawberry.Info,
        filter: InteractionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Interaction]:
        service = services_of(info).interactions(principal_of(info))
        f = filter or InteractionFilter()
        page = await service.search(
            customer_id=str(f.customer_id) if f.customer_id else None,
            owner_id=str(f.owner_id) if f.owner_id else None,
            occurred_from=f.occurred_from,
            occurred_to=f.occurred_to,
            kind=f.kind,
            page=PageRequest(first=first, after=after),
        )
        mask = masking(info)
        return to_connection(page, lambda m: Interaction.from_model(m, mask))

    @strawberry.field(description="One follow-up by id; null if absent or not yours to see.")
    async def follow_up(self, info: strawberry.Info, id: strawberry.ID) -> FollowUp | None:
        found = await services_of(info).followups(principal_of(info)).get(str(id))
        return FollowUp.from_model(found) if found else None

    @strawberry.field(description="My open and overdue follow-ups, soonest due first.")
    async def my_follow_ups(
        self,
        info: strawberry.Info,
        due: DueWindow = DueWindowModel.ALL,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
        participating: Annotated[
            bool,
            strawberry.argument(
                description=(
                    "True: the follow-ups I joined as a participant (assigned to a colleague)"
                    " instead of the ones assigned to me."
                )
            ),
        ] = False,
    ) -> Connection[FollowUp]:
        service = services_of(info).followups(principal_of(info))
        page = await service.mine(
            DueWindowModel(due), PageRequest(first=first, after=after), participating=participating
        )
        return to_connection(page, FollowUp.from_model)

    @strawberry.field(description="The next follow-up the cadence proposes for a customer.")
    async def proposed_follow_up(
        self, info: strawberry.Info, customer_id: strawberry.ID
    ) -> FollowUpProposal:
        service = services_of(info).interactions(principal_of(info))
        return FollowUpProposal.from_model(await service.propose_next(str(customer_id)))

    @strawberry.field(description="One activity by id.")
    async def activity(self, info: strawberry.Info, id: strawberry.ID) -> Activity | None:
        found = await services_of(info).activities(principal_of(info)).get(str(id))
        return Activity.from_model(found) if found else None

    @strawberry.field(description="Activities of the tenant, latest start first.")
    async def activities(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Activity]:
        service = services_of(info).activities(principal_of(info))
        return to_connection(
            await service.list(PageRequest(first=first, after=after)), Activity.from_model
        )

    @strawberry.field(description="Registrations for an activity (customers you may see).")
    async def activity_registrations(
        self,
        info: strawberry.Info,
        activity_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ActivityRegistration]:
        service = services_of(info).activities(principal_of(info))
        page = await service.registrations_of(
            str(activity_id), PageRequest(first=first, after=after)
        )
        mask = masking(info)
        return to_connection(page, lambda m: ActivityRegistration.from_model(m, mask))

    @strawberry.field(
        description=(
            "Customers (that you see) registered for an activity or for any activity of a kind,"
            " by attendance: the list for an event follow-up. One entry per customer, in id"
            " order; the customer's fields come from the customer service."
        )
    )
    async def customers_by_activity(
        self,
        info: strawberry.Info,
        filter: ActivityAttendanceFilter,
        first: int | None = None,
        after: str | None = None,
    ) -> ActivityCustomerConnection:
        service = services_of(info).activities(principal_of(info))
        page = await service.customers_by_attendance(
            activity_id=str(filter.activity_id) if filter.activity_id else None,
            kind=filter.activity_kind,
            attendance=filter.attendance,
            page=PageRequest(first=first, after=after),
        )
        return ActivityCustomerConnection.from_page(page)

    @strawberry.field(
        description=(
            "The 24-hour rules per rep over a period: interactions entered within 24 h of"
            " happening, and new customers' first contact registered within 24 h of the first"
            " touch. A sales rep sees their own row, a sales manager the team's customers,"
            " admins and analysts the tenant."
        )
    )
    async def entry_timeliness(
        self, info: strawberry.Info, period: PeriodInput
    ) -> EntryTimelinessReport:
        service = services_of(info).timeliness(principal_of(info))
        return EntryTimelinessReport.from_model(await service.report(period.from_, period.to))

    @strawberry.field(
        description=(
            "Touch campaigns planned (planTouches), newest first, each with its progress."
            " Who may plan touches sees them: an admin the tenant's, a sales manager those"
            " planned for their team."
        )
    )
    async def touch_campaigns(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[TouchCampaign]:
        service = services_of(info).care(principal_of(info))
        page = await service.campaigns(PageRequest(first=first, after=after))
        return to_connection(page, TouchCampaign.from_model)

    @strawberry.field(description="How this tenant's care visit plan after a deal is made.")
    async def care_plan_settings(self, info: strawberry.Info) -> CarePlanSettings:
        settings = await services_of(info).care(principal_of(info)).settings()
        return CarePlanSettings.from_model(settings)

    @strawberry.field(description="This tenant's cadence, edit grace and reminder lead.")
    async def engagement_settings(self, info: strawberry.Info) -> EngagementSettings:
        settings = await services_of(info).settings(principal_of(info)).get()
        return EngagementSettings.from_model(settings)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Record a call, visit, email, meeting or chat.")
    async def log_interaction(
        self, info: strawberry.Info, input: LogInteractionInput
    ) -> LogInteractionPayload:
        service = services_of(info).interactions(principal_of(info))
        interaction = await service.log(
            LogInteractionCommand(
                customer_id=str(input.customer_id),
                kind=input.kind,
                content=input.content,
                occurred_at=input.occurred_at,
                feedback=input.feedback,
                objections=input.objections,
                next_steps=input.next_steps,
                participants=tuple(p.to_model() for p in input.participants),
                attachments=tuple(a.to_model() for a in input.attachments),
            )
        )
        proposal = await service.propose_next(interaction.customer_id)
        return LogInteractionPayload(
            interaction=Interaction.from_model(interaction),
            proposed_follow_up=FollowUpProposal.from_model(proposal),
        )

    @strawberry.mutation(description="Change an interaction within the edit grace period.")
    async def edit_interaction(
        self, info: strawberry.Info, input: EditInteractionInput
    ) -> InteractionPayload:
        service = services_of(info).interactions(principal_of(info))
        edited = await service.edit(
            EditInteractionCommand(
                id=str(input.id),
                content=input.content,
                occurred_at=input.occurred_at,
                feedback=input.feedback,
                objections=input.objections,
                next_steps=input.next_steps,
                participants=tuple(p.to_model() for p in input.participants)
                if input.participants is not None
                else None,
                attachments=tuple(a.to_model() for a in input.attachments)
                if input.attachments is not None
                else None,
            )
        )
        return InteractionPayload(interaction=Interaction.from_model(edited))

    @strawberry.mutation(description="Append a correction (the original stays as recorded).")
    async def correct_interaction(
        self, info: strawberry.Info, input: CorrectInteractionInput
    ) -> InteractionPayload:
        service = services_of(info).interactions(principal_of(info))
        corrected = await service.correct(str(input.id), input.text)
        return InteractionPayload(interaction=Interaction.from_model(corrected))

    @strawberry.mutation(description="Plan a follow-up task.")
    async def schedule_follow_up(
        self, info: strawberry.Info, input: ScheduleFollowUpInput
    ) -> FollowUpPayload:
        service = services_of(info).followups(principal_of(info))
        task = await service.schedule(
            ScheduleCommand(
                customer_id=str(input.customer_id),
                type=input.type,
                due_at=input.due_at,
                goal=input.goal,
                priority=input.priority,
                assignee_id=str(input.assignee_id) if input.assignee_id else None,
                participant_ids=tuple(str(p) for p in input.participant_ids),
            )
        )
        return FollowUpPayload(follow_up=FollowUp.from_model(task))

    @strawberry.mutation(
        description=(
            "Colleagues join or leave an open follow-up (the assignee, or whoever may change"
            " the customer's records). Participants see it and are reminded with the assignee."
        )
    )
    async def change_follow_up_participants(
        self, info: strawberry.Info, input: ChangeFollowUpParticipantsInput
    ) -> FollowUpPayload:
        service = services_of(info).followups(principal_of(info))
        task = await service.change_participants(
            str(input.id), [str(p) for p in input.add], [str(p) for p in input.remove]
        )
        return FollowUpPayload(follow_up=FollowUp.from_model(task))

    @strawberry.mutation(description="Create the follow-up the cadence proposes.")
    async def schedule_proposed_follow_up(
        self, info: strawberry.Info, input: ScheduleProposedFollowUpInput
    ) -> FollowUpPayload:
        service = services_of(info).followups(principal_of(info))
        task = await service.schedule_from_proposal(str(input.customer_id), input.type, input.goal)
        return FollowUpPayload(follow_up=FollowUp.from_model(task))

    @strawberry.mutation(description="Finish a follow-up with its outcome (logs an interaction).")
    async def complete_follow_up(
        self, info: strawberry.Info, input: CompleteFollowUpInput
    ) -> CompleteFollowUpPayload:
        service = services_of(info).followups(principal_of(info))
        task, interaction = await service.complete(str(input.id), input.outcome, input.kind)
        return CompleteFollowUpPayload(
            follow_up=FollowUp.from_model(task), interaction=Interaction.from_model(interaction)
        )

    @strawberry.mutation(description="Cancel an open follow-up.")
    async def cancel_follow_up(
        self, info: strawberry.Info, input: CancelFollowUpInput
    ) -> FollowUpPayload:
        task = await services_of(info).followups(principal_of(info)).cancel(str(input.id))
        return FollowUpPayload(follow_up=FollowUp.from_model(task))

    @strawberry.mutation(description="Organise an event, training, exhibition or webinar.")
    async def create_activity(
        self, info: strawberry.Info, input: CreateActivityInput
    ) -> ActivityPayload:
        service = services_of(info).activities(principal_of(info))
        activity = await service.create(
            CreateActivityCommand(
                kind=input.kind,
                title=input.title,
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                location=input.location,
            )
        )
        return ActivityPayload(activity=Activity.from_model(activity))

    @strawberry.mutation(description="Register a customer (and contact) for an activity.")
    async def register_for_activity(
        self, info: strawberry.Info, input: RegisterForActivityInput
    ) -> RegistrationPayload:
        service = services_of(info).activities(principal_of(info))
        registration = await service.register(
            str(input.activity_id),
            str(input.customer_id),
            input.contact.to_model() if input.contact else None,
        )
        return RegistrationPayload(
            registration=ActivityRegistration.from_model(registration, masking(info))
        )

    @strawberry.mutation(description="Record whether a registration attended (once).")
    async def record_attendance(
        self, info: strawberry.Info, input: RecordAttendanceInput
    ) -> RegistrationPayload:
        service = services_of(info).activities(principal_of(info))
        registration = await service.record_attendance(str(input.id), input.attended)
        return RegistrationPayload(
            registration=ActivityRegistration.from_model(registration, masking(info))
        )

    @strawberry.mutation(description="Change this tenant's cadence, edit grace or reminder lead.")
    async def update_engagement_settings(
        self, info: strawberry.Info, input: UpdateEngagementSettingsInput
    ) -> EngagementSettingsPayload:
        service = services_of(info).settings(principal_of(info))
        current = await service.get()
        changes = {
            name: value
            for name in (
                "high_interval_days",
                "medium_interval_days",
                "low_interval_days",
                "edit_grace_minutes",
                "reminder_lead_minutes",
            )
            if (value := getattr(input, name)) is not None
        }
        updated = await service.update(replace(current, **changes))
        return EngagementSettingsPayload(settings=EngagementSettings.from_model(updated))

    @strawberry.mutation(
        description="Change how the care visit plan after a deal is made (admin; new plans)."
    )
    async def update_care_plan_settings(
        self, info: strawberry.Info, input: UpdateCarePlanSettingsInput
    ) -> CarePlanSettingsPayload:
        service = services_of(info).care(principal_of(info))
        current = await service.settings()
        changes = {
            name: value
            for name in (
                "enabled",
                "weekly_interval_days",
                "first_phase_days",
                "later_interval_days",
                "horizon_days",
            )
            if (value := getattr(input, name)) is not None
        }
        updated = await service.update_settings(replace(current, **changes))
        return CarePlanSettingsPayload(settings=CarePlanSettings.from_model(updated))

    @strawberry.mutation(
        description=(
            "Plan a holiday greeting (节日关怀) or a content push for a segment: one follow-up"
            " per matching customer for its owner (a manager: their team's customers; an"
            " admin: the tenant's). Completing it (completeFollowUp) records the touch as an"
            " interaction."
        )
    )
    async def plan_touches(
        self, info: strawberry.Info, input: PlanTouchesInput
    ) -> PlanTouchesPayload:
        service = services_of(info).care(principal_of(info))
        planned = await service.plan_touches(
            PlanTouchesCommand(
                kind=input.kind,
                title=input.title,
                due_at=input.due_at,
                segment=input.segment.to_model(),
                message=input.message,
                type=input.type,
            )
        )
        return PlanTouchesPayload(
            campaign_id=strawberry.ID(planned.campaign_id),
            kind=planned.kind,
            customers=planned.matched,
            created=planned.created,
        )

    @strawberry.mutation(description="How often a customer should be touched (drives the cadence).")
    async def set_customer_priority(
        self, info: strawberry.Info, input: SetCustomerPriorityInput
    ) -> SetCustomerPriorityPayload:
        principal = principal_of(info)
        ref = (
            await services_of(info)
            .settings(principal)
            .set_customer_priority(str(input.customer_id), input.priority)
        )
        proposal = await services_of(info).interactions(principal).propose_next(ref.id)
        return SetCustomerPriorityPayload(
            customer_id=strawberry.ID(ref.id),
            priority=input.priority,
            proposed_follow_up=FollowUpProposal.from_model(proposal),
        )


def schema() -> SubgraphSchema:
    return build_schema(
        query=merge_types("Query", (Query, NotificationQuery, WebhookQuery)),
        mutation=merge_types("Mutation", (Mutation, NotificationMutation, WebhookMutation)),
        subscription=Subscription,
        types=[Customer],
    )
