"""Root fields of the engagement subgraph."""

from __future__ import annotations

from dataclasses import replace

import strawberry
from strawberry.tools import merge_types

from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.pagination import PageRequest
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.api.notifications import NotificationMutation, NotificationQuery, Subscription
from crm_engagement.api.types import (
    Activity,
    ActivityPayload,
    ActivityRegistration,
    CancelFollowUpInput,
    CompleteFollowUpInput,
    CompleteFollowUpPayload,
    CorrectInteractionInput,
    CreateActivityInput,
    Customer,
    DueWindow,
    EditInteractionInput,
    EngagementSettings,
    EngagementSettingsPayload,
    FollowUp,
    FollowUpPayload,
    FollowUpProposal,
    Interaction,
    InteractionFilter,
    InteractionPayload,
    LogInteractionInput,
    LogInteractionPayload,
    RecordAttendanceInput,
    RegisterForActivityInput,
    RegistrationPayload,
    ScheduleFollowUpInput,
    ScheduleProposedFollowUpInput,
    SetCustomerPriorityInput,
    SetCustomerPriorityPayload,
    UpdateEngagementSettingsInput,
    masking,
)
from crm_engagement.api.webhooks import WebhookMutation, WebhookQuery
from crm_engagement.service.activities import CreateActivityCommand
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
    ) -> Connection[FollowUp]:
        service = services_of(info).followups(principal_of(info))
        page = await service.mine(DueWindowModel(due), PageRequest(first=first, after=after))
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
            )
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
