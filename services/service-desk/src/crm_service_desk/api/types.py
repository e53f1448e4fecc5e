"""GraphQL types of the service-desk subgraph."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from crm_common.clock import utc_now
from crm_common.graphql.email import EmailDelivery
from crm_common.graphql.filters import DateTimeFilter, EnumFilter, IDFilter, StringFilter
from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_service_desk.api.context import principal_of, services_of
from crm_service_desk.domain import article as article_model
from crm_service_desk.domain import improvement as task_model
from crm_service_desk.domain import service_order as order_model
from crm_service_desk.domain import survey as survey_model
from crm_service_desk.domain import ticket as ticket_model
from crm_service_desk.service import ports as service_ports

TicketPriority = strawberry.enum(ticket_model.TicketPriority, description="How urgent a ticket is.")
TicketCategory = strawberry.enum(ticket_model.TicketCategory, description="What a ticket is about.")
TicketStatus = strawberry.enum(
    ticket_model.TicketStatus, description="Where a ticket is in its handling."
)
ServiceStage = strawberry.enum(
    order_model.Stage, description="The delivery stages of a service order, in order."
)
ServiceOrderStatus = strawberry.enum(order_model.OrderStatus, description="Delivery state.")
ServiceOrderSource = strawberry.enum(order_model.OrderSource, description="How it was opened.")
DeliverableKind = strawberry.enum(order_model.DeliverableKind, description="File or link.")
SurveySubject = strawberry.enum(survey_model.SurveySubject, description="What a survey is about.")
SurveyStatus = strawberry.enum(survey_model.SurveyStatus, description="Sent or answered.")
ArticleKind = strawberry.enum(article_model.ArticleKind, description="What an article records.")
SurveyChannel = strawberry.enum(
    survey_model.SurveyChannel,
    description="How a survey was answered: LINK (the customer, through the link) or PHONE (an "
    "agent recorded the customer's answers on a follow-up call, 电话回访).",
)
ImprovementTaskStatus = strawberry.enum(
    task_model.TaskStatus,
    description="OPEN → IN_PROGRESS → DONE or CANCELLED (closing needs a note).",
)
ImprovementTaskSource = strawberry.enum(
    task_model.TaskSource,
    description="Why the task exists: a low SURVEY answer, a complaint TICKET, or a MANUAL "
    "decision.",
)


@strawberry.federation.type(shareable=True, description="An exact amount of money.")
class Money:
    amount_minor: str = strawberry.field(
        description="Integer amount in the currency's minor unit (fen, cents), as a string"
    )
    currency: str = strawberry.field(description="ISO 4217 code")


# ---------------------------------------------------------------- tickets


@strawberry.type(description="One step in a ticket's life: what, who, when.")
class TicketHistoryEntry:
    action: str = strawberry.field(
        description="What happened, e.g. OPENED, ASSIGNED, SLA_RESPONSE_BREACHED."
    )
    actor_id: str = strawberry.field(
        description="User id of who did it, or 'system' for SLA checks."
    )
    at: datetime = strawberry.field(description="When it happened (ISO 8601, UTC).")
    from_status: TicketStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="Status before the step; null for OPENED and SLA entries."
    )
    to_status: TicketStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="Status after the step; null for SLA entries."
    )
    note: str | None = strawberry.field(
        description="Note given with the step (for SLA breaches, who it escalated to); null if "
        "none."
    )


@strawberry.type(description="A customer's request for help, tracked until it is closed.")
class Ticket:
    id: strawberry.ID = strawberry.field(description="Stable id of the ticket.")
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer who asked for help."
    )
    title: str = strawberry.field(description="Short summary of the problem.")
    description: str = strawberry.field(
        description="The problem in detail, as the customer described it."
    )
    category: TicketCategory = strawberry.field(description="What the ticket is about.")  # type: ignore[valid-type]
    priority: TicketPriority = strawberry.field(  # type: ignore[valid-type]
        description="How urgent it is; sets the SLA due times."
    )
    status: TicketStatus = strawberry.field(description="Where the ticket is in its workflow.")  # type: ignore[valid-type]
    department: str | None = strawberry.field(
        description="Department it was dispatched to; null until dispatched."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        description="User id of the agent handling it; null until assigned."
    )
    opened_by: strawberry.ID = strawberry.field(description="Who opened it")
    created_at: datetime = strawberry.field(description="When it was opened (ISO 8601, UTC).")
    response_due_at: datetime = strawberry.field(description="First response due (SLA)")
    resolution_due_at: datetime = strawberry.field(description="Resolution due (SLA)")
    responded_at: datetime | None = strawberry.field(
        description="When it got its first response (ISO 8601, UTC); null if not yet."
    )
    resolved_at: datetime | None = strawberry.field(
        description="When it was resolved (ISO 8601, UTC); null if not yet."
    )
    resolution: str | None = strawberry.field(description="How it was resolved")
    response_breached_at: datetime | None = strawberry.field(
        description="When the response SLA was found breached (ISO 8601, UTC); null if not."
    )
    resolution_breached_at: datetime | None = strawberry.field(
        description="When the resolution SLA was found breached (ISO 8601, UTC); null if not."
    )
    escalated: bool = strawberry.field(description="An SLA breach escalated it")
    escalated_to: strawberry.ID | None = strawberry.field(description="The department lead")
    escalated_at: datetime | None = strawberry.field(
        description="When it was escalated to the department lead (ISO 8601, UTC); null if not."
    )
    history: list[TicketHistoryEntry] = strawberry.field(
        description="Every step of the ticket, oldest first."
    )

    @classmethod
    def from_model(cls, m: ticket_model.Ticket) -> Ticket:
        return cls(
            id=strawberry.ID(m.id),
            customer_id=strawberry.ID(m.customer_id),
            title=m.title,
            description=m.description,
            category=m.category,
            priority=m.priority,
            status=m.status,
            department=m.department,
            assignee_id=strawberry.ID(m.assignee_id) if m.assignee_id else None,
            opened_by=strawberry.ID(m.opened_by),
            created_at=m.created_at,
            response_due_at=m.response_due_at,
            resolution_due_at=m.resolution_due_at,
            responded_at=m.responded_at,
            resolved_at=m.resolved_at,
            resolution=m.resolution,
            response_breached_at=m.response_breached_at,
            resolution_breached_at=m.resolution_breached_at,
            escalated=m.escalated,
            escalated_to=strawberry.ID(m.escalated_to) if m.escalated_to else None,
            escalated_at=m.escalated_at,
            history=[
                TicketHistoryEntry(
                    action=h.action,
                    actor_id=h.actor_id,
                    at=h.at,
                    from_status=h.from_status,
                    to_status=h.to_status,
                    note=h.note,
                )
                for h in m.history
            ],
        )


@strawberry.input(description="Which tickets to list; all given conditions must hold.")
class TicketFilter:
    and_: list[TicketFilter] | None = strawberry.field(
        default=None, name="and", description="All of these filters must hold."
    )
    or_: list[TicketFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these filters must hold."
    )
    not_: TicketFilter | None = strawberry.field(
        default=None, name="not", description="This filter must not hold."
    )
    id: IDFilter | None = strawberry.field(default=None, description="The ticket id.")
    customer_id: IDFilter | None = strawberry.field(default=None, description="The customer's id.")
    status: EnumFilter[ticket_model.TicketStatus] | None = strawberry.field(
        default=None, description="The workflow status."
    )
    priority: EnumFilter[ticket_model.TicketPriority] | None = strawberry.field(
        default=None, description="The priority."
    )
    category: EnumFilter[ticket_model.TicketCategory] | None = strawberry.field(
        default=None, description="The category."
    )
    department: StringFilter | None = strawberry.field(
        default=None, description="The department name."
    )
    assignee_id: IDFilter | None = strawberry.field(
        default=None, description="The assigned agent's user id."
    )
    escalated_to: IDFilter | None = strawberry.field(
        default=None, description="The user id of the lead it was escalated to."
    )
    title: StringFilter | None = strawberry.field(default=None, description="The title text.")
    created_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When it was opened."
    )
    resolution_due_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When resolution is due under the SLA."
    )


@strawberry.input(description="A ticket to open for a customer; it starts as NEW.")
class OpenTicketInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer who asks for help."
    )
    title: str = strawberry.field(description="1 to 200 characters")
    description: str | None = strawberry.field(default=None, description="The problem in detail.")
    category: TicketCategory = strawberry.field(  # type: ignore[valid-type]
        default=ticket_model.TicketCategory.OTHER,
        description="What the ticket is about; OTHER if not given.",
    )
    priority: TicketPriority = strawberry.field(  # type: ignore[valid-type]
        default=ticket_model.TicketPriority.MEDIUM,
        description="How urgent it is, which sets its SLA; MEDIUM if not given.",
    )
    department: str | None = strawberry.field(default=None, description="Dispatch right away")


@strawberry.input(description="Dispatch a ticket to a department and an assignee.")
class AssignTicketInput:
    ticket_id: strawberry.ID = strawberry.field(description="Id of the ticket to dispatch.")
    department: str = strawberry.field(description="Name of a department of the tenant.")
    assignee_id: strawberry.ID = strawberry.field(
        description="User id of the agent who will handle it."
    )


@strawberry.input(description="Move a ticket along its workflow.")
class ChangeTicketStatusInput:
    ticket_id: strawberry.ID = strawberry.field(description="Id of the ticket to move.")
    status: TicketStatus = strawberry.field(  # type: ignore[valid-type]
        description="The target status; only the workflow's allowed moves are accepted."
    )
    note: str | None = strawberry.field(
        default=None, description="For RESOLVED: how it was resolved"
    )


@strawberry.input(description="Reopen a resolved or closed ticket.")
class ReopenTicketInput:
    ticket_id: strawberry.ID = strawberry.field(description="Id of the resolved or closed ticket.")
    reason: str | None = strawberry.field(
        default=None, description="Why it is reopened; kept in the history."
    )


@strawberry.type(description="The ticket after the change.")
class TicketPayload:
    ticket: Ticket = strawberry.field(description="The ticket as stored.")


@strawberry.type(description="Due times of one priority in the tenant's SLA table.")
class SlaTarget:
    priority: TicketPriority = strawberry.field(  # type: ignore[valid-type]
        description="The ticket priority the row applies to."
    )
    response_seconds: int = strawberry.field(
        description="Seconds from opening until the first response is due."
    )
    resolution_seconds: int = strawberry.field(
        description="Seconds from opening until resolution is due."
    )

    @classmethod
    def from_model(cls, m: ticket_model.SlaTarget) -> SlaTarget:
        return cls(
            priority=m.priority,
            response_seconds=m.response_seconds,
            resolution_seconds=m.resolution_seconds,
        )


@strawberry.input(description="Due times for one ticket priority.")
class SlaTargetInput:
    priority: TicketPriority = strawberry.field(  # type: ignore[valid-type]
        description="The ticket priority the row applies to."
    )
    response_seconds: int = strawberry.field(
        description="Seconds from opening until the first response is due (positive)."
    )
    resolution_seconds: int = strawberry.field(
        description="Seconds from opening until resolution is due (at least the response time)."
    )


@strawberry.input(description="Override rows of the tenant's SLA table (admin).")
class SetSlaPolicyInput:
    targets: list[SlaTargetInput] = strawberry.field(
        description="One row per priority to override; other priorities keep theirs."
    )


@strawberry.type(description="The tenant's SLA table after the change.")
class SlaPolicyPayload:
    targets: list[SlaTarget] = strawberry.field(description="Due times for every priority.")


@strawberry.type(description="A service department; its lead receives SLA escalations.")
class Department:
    name: str = strawberry.field(description="Department name, unique in the tenant.")
    lead_id: strawberry.ID | None = strawberry.field(
        description="User id of the lead who receives SLA escalations; null if none."
    )


@strawberry.input(description="Create or change a department (admin).")
class SetDepartmentInput:
    name: str = strawberry.field(description="Department name; an existing one is changed.")
    lead_id: strawberry.ID | None = strawberry.field(
        default=None, description="User id of the lead who receives SLA escalations; null for none."
    )


@strawberry.type(description="The tenant's departments after the change.")
class DepartmentsPayload:
    departments: list[Department] = strawberry.field(
        description="Every department of the tenant, by name."
    )


# ---------------------------------------------------------------- service orders


@strawberry.type(description="A file reference or link handed over in a stage.")
class Deliverable:
    name: str = strawberry.field(description="Name shown to users.")
    kind: DeliverableKind = strawberry.field(description="A stored file or a link.")  # type: ignore[valid-type]
    reference: str = strawberry.field(description="Stored file id, or an http(s) URL")
    added_by: strawberry.ID = strawberry.field(description="User id of who attached it.")
    added_at: datetime = strawberry.field(description="When it was attached (ISO 8601, UTC).")


@strawberry.type(description="One delivery stage of a service order.")
class ServiceOrderStage:
    stage: ServiceStage = strawberry.field(description="Which delivery stage this is.")  # type: ignore[valid-type]
    progress: int = strawberry.field(description="0-100")
    started_at: datetime | None = strawberry.field(
        description="When work on it started (ISO 8601, UTC); null if not yet."
    )
    completed_at: datetime | None = strawberry.field(
        description="When it completed (ISO 8601, UTC); null if not yet."
    )
    deliverables: list[Deliverable] = strawberry.field(
        description="Files and links handed over in this stage, oldest first."
    )


@strawberry.type(description="A delivery for a customer, stage by stage.")
class ServiceOrder:
    id: strawberry.ID = strawberry.field(description="Stable id of the service order.")
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer it delivers to.")
    title: str = strawberry.field(description="Short name of the delivery.")
    content: str = strawberry.field(description="What is delivered, free text.")
    source: ServiceOrderSource = strawberry.field(  # type: ignore[valid-type]
        description="Opened from an accepted quote or by hand."
    )
    quote_id: strawberry.ID | None = strawberry.field(
        description="Id of the accepted quote version it came from; null if opened by hand."
    )
    quote_number: str | None = strawberry.field(
        description="Number of that quote (QUO...); null if opened by hand."
    )
    amount: Money | None = strawberry.field(description="The accepted quote's total")
    owner_id: strawberry.ID = strawberry.field(
        description="User id of who is responsible for the delivery."
    )
    team: str | None = strawberry.field(description="Team of the owner; null if none.")
    delivery_start: date | None = strawberry.field(
        description="Planned first day of delivery (YYYY-MM-DD); null if not planned."
    )
    delivery_end: date | None = strawberry.field(
        description="Planned last day of delivery (YYYY-MM-DD); null if not planned."
    )
    status: ServiceOrderStatus = strawberry.field(description="Where the delivery is.")  # type: ignore[valid-type]
    current_stage: ServiceStage | None = strawberry.field(  # type: ignore[valid-type]
        description="The stage in work; null once delivered."
    )
    progress: int = strawberry.field(description="Mean progress of the stages, 0-100")
    stages: list[ServiceOrderStage] = strawberry.field(
        description="Every stage, in delivery order."
    )
    created_at: datetime = strawberry.field(description="When it was opened (ISO 8601, UTC).")
    delivered_at: datetime | None = strawberry.field(
        description="When the last stage completed (ISO 8601, UTC); null until then."
    )

    @classmethod
    def from_model(cls, m: order_model.ServiceOrder) -> ServiceOrder:
        amount = (
            Money(amount_minor=str(m.amount_minor), currency=m.currency)
            if m.amount_minor is not None and m.currency
            else None
        )
        return cls(
            id=strawberry.ID(m.id),
            customer_id=strawberry.ID(m.customer_id),
            title=m.title,
            content=m.content,
            source=m.source,
            quote_id=strawberry.ID(m.quote_id) if m.quote_id else None,
            quote_number=m.quote_number,
            amount=amount,
            owner_id=strawberry.ID(m.owner_id),
            team=m.team,
            delivery_start=m.delivery_start,
            delivery_end=m.delivery_end,
            status=m.status,
            current_stage=m.current_stage,
            progress=m.progress,
            stages=[
                ServiceOrderStage(
                    stage=s.stage,
                    progress=s.progress,
                    started_at=s.started_at,
                    completed_at=s.completed_at,
                    deliverables=[
                        Deliverable(
                            name=d.name,
                            kind=d.kind,
                            reference=d.reference,
                            added_by=strawberry.ID(d.added_by),
                            added_at=d.added_at,
                        )
                        for d in s.deliverables
                    ],
                )
                for s in m.stages
            ],
            created_at=m.created_at,
            delivered_at=m.delivered_at,
        )


@strawberry.input(description="A service order opened by hand (without a quote).")
class OpenServiceOrderInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer the delivery is for."
    )
    title: str = strawberry.field(description="Short name of the delivery (not blank).")
    content: str | None = strawberry.field(
        default=None, description="What will be delivered, free text."
    )
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="Default: you")
    team: str | None = strawberry.field(default=None, description="Default: your team")
    delivery_start: date | None = strawberry.field(
        default=None, description="Planned first day of delivery (YYYY-MM-DD)."
    )
    delivery_end: date | None = strawberry.field(
        default=None,
        description="Planned last day of delivery (YYYY-MM-DD); not before deliveryStart.",
    )


@strawberry.input(description="Change an order's details; omitted fields stay as they are.")
class UpdateServiceOrderInput:
    order_id: strawberry.ID = strawberry.field(description="Id of the service order to change.")
    title: str | None = strawberry.field(default=None, description="New short name; null keeps it.")
    content: str | None = strawberry.field(default=None, description="New content; null keeps it.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="User id of the new owner; null keeps it."
    )
    team: str | None = strawberry.field(default=None, description="New team; null keeps it.")
    delivery_start: date | None = strawberry.field(
        default=None, description="New planned first day (YYYY-MM-DD); null keeps it."
    )
    delivery_end: date | None = strawberry.field(
        default=None, description="New planned last day (YYYY-MM-DD); null keeps it."
    )


@strawberry.input(description="Complete the stage in work and start the next (or deliver).")
class AdvanceServiceOrderInput:
    order_id: strawberry.ID = strawberry.field(description="Id of the service order to advance.")


@strawberry.input(description="Report progress (0-99) on the stage in work.")
class ReportStageProgressInput:
    order_id: strawberry.ID = strawberry.field(description="Id of the service order.")
    stage: ServiceStage = strawberry.field(  # type: ignore[valid-type]
        description="The stage in work (another stage is refused)."
    )
    progress: int = strawberry.field(
        description="Progress in percent, 0 to 99 (advance the order to complete it)."
    )


@strawberry.input(description="Attach a file reference or link to a stage.")
class AddDeliverableInput:
    order_id: strawberry.ID = strawberry.field(description="Id of the service order.")
    stage: ServiceStage = strawberry.field(description="The stage the deliverable belongs to.")  # type: ignore[valid-type]
    name: str = strawberry.field(description="Name shown to users (not blank).")
    kind: DeliverableKind = strawberry.field(description="A stored file or a link.")  # type: ignore[valid-type]
    reference: str = strawberry.field(description="Stored file id (FILE) or an http(s) URL (LINK).")


@strawberry.type(description="The service order after the change.")
class ServiceOrderPayload:
    service_order: ServiceOrder = strawberry.field(description="The service order as stored.")


# ---------------------------------------------------------------- surveys


@strawberry.type(description="One thing a survey asks to score.")
class SurveyDimension:
    key: str = strawberry.field(description="Stable key of the dimension (lower_snake_case).")
    label: str = strawberry.field(description="Question text shown to the customer.")


@strawberry.type(description="The customer's score on one survey dimension.")
class SurveyScore:
    dimension: str = strawberry.field(description="Key of the scored dimension.")
    score: int = strawberry.field(description="1-5")


@strawberry.type(description="A satisfaction survey sent after a delivery or a resolution.")
class Survey:
    id: strawberry.ID = strawberry.field(description="Stable id of the survey.")
    customer_id: strawberry.ID = strawberry.field(description="Id of the surveyed customer.")
    subject_type: SurveySubject = strawberry.field(  # type: ignore[valid-type]
        description="Whether it is about a service order or a ticket."
    )
    subject_id: strawberry.ID = strawberry.field(
        description="Id of the service order or ticket it is about."
    )
    template_id: strawberry.ID = strawberry.field(
        description="Id of the template it was made from."
    )
    dimensions: list[SurveyDimension] = strawberry.field(
        description="What the customer is asked to score, in order."
    )
    status: SurveyStatus = strawberry.field(description="Sent or answered.")  # type: ignore[valid-type]
    sent_at: datetime = strawberry.field(description="When it was sent (ISO 8601, UTC).")
    scores: list[SurveyScore] = strawberry.field(
        description="The customer's scores, one per dimension; empty until answered."
    )
    comment: str | None = strawberry.field(
        description="The customer's free-text comment; null if none."
    )
    responded_at: datetime | None = strawberry.field(
        description="When the customer answered (ISO 8601, UTC); null until then."
    )
    channel: SurveyChannel | None = strawberry.field(  # type: ignore[valid-type]
        description="How it was answered (LINK or PHONE); null until answered."
    )
    recorded_by: strawberry.ID | None = strawberry.field(
        description="User id of the agent who recorded a PHONE answer; null otherwise."
    )
    _model: strawberry.Private[survey_model.Survey]

    @strawberry.field(
        description="The invitations e-mailed for this survey (emailSurveyInvitation), newest "
        "first: recipient, status, attempts and the mail server's answer to a failure."
    )
    async def deliveries(self, info: strawberry.Info) -> list[EmailDelivery]:
        service = services_of(info).surveys(principal_of(info))
        return [EmailDelivery.of(d) for d in await service.deliveries(self._model)]

    @classmethod
    def from_model(cls, m: survey_model.Survey) -> Survey:
        return cls(
            id=strawberry.ID(m.id),
            customer_id=strawberry.ID(m.customer_id),
            subject_type=m.subject_type,
            subject_id=strawberry.ID(m.subject_id),
            template_id=strawberry.ID(m.template_id),
            dimensions=[SurveyDimension(key=d.key, label=d.label) for d in m.dimensions],
            status=m.status,
            sent_at=m.sent_at,
            scores=[SurveyScore(dimension=k, score=v) for k, v in (m.scores or {}).items()],
            comment=m.comment,
            responded_at=m.responded_at,
            channel=m.channel,
            recorded_by=strawberry.ID(m.recorded_by) if m.recorded_by else None,
            _model=m,
        )


@strawberry.type(description="A survey template: the dimensions customers score.")
class SurveyTemplate:
    id: strawberry.ID = strawberry.field(description="Stable id of the template.")
    name: str = strawberry.field(description="Template name.")
    subject: SurveySubject | None = strawberry.field(  # type: ignore[valid-type]
        description="The kind of subject it is used for; null for both."
    )
    dimensions: list[SurveyDimension] = strawberry.field(
        description="What customers score, in order."
    )

    @classmethod
    def from_model(cls, m: survey_model.SurveyTemplate) -> SurveyTemplate:
        return cls(
            id=strawberry.ID(m.id),
            name=m.name,
            subject=m.subject,
            dimensions=[SurveyDimension(key=d.key, label=d.label) for d in m.dimensions],
        )


@strawberry.type(description="Satisfaction on one dimension over the answered surveys.")
class DimensionCsat:
    dimension: str = strawberry.field(description="Key of the survey dimension.")
    responses: int = strawberry.field(description="How many answered surveys scored it.")
    average_score: float = strawberry.field(
        description="Mean score, 1 to 5, rounded to two decimals."
    )
    csat_percent: float = strawberry.field(description="Share of 4 and 5 scores, in percent")

    @classmethod
    def from_model(cls, m: survey_model.DimensionCsat) -> DimensionCsat:
        return cls(
            dimension=m.dimension,
            responses=m.responses,
            average_score=round(m.average, 2),
            csat_percent=round(m.csat_percent, 1),
        )


@strawberry.input(description="One thing the survey asks to score.")
class SurveyDimensionInput:
    key: str = strawberry.field(description="lower_snake_case")
    label: str = strawberry.field(description="Question text shown to the customer (not blank).")


@strawberry.input(description="A survey template (service manager or admin).")
class CreateSurveyTemplateInput:
    name: str = strawberry.field(description="Template name shown to service managers (not blank).")
    dimensions: list[SurveyDimensionInput] = strawberry.field(
        description="What customers score, in the order asked (at least one, unique keys)."
    )
    subject: SurveySubject | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Used for this kind of subject only; null for both"
    )


@strawberry.type(description="The survey template as stored.")
class SurveyTemplatePayload:
    template: SurveyTemplate = strawberry.field(description="The new template.")


@strawberry.input(description="Issue a fresh single-use response link for an unanswered survey.")
class IssueSurveyLinkInput:
    survey_id: strawberry.ID = strawberry.field(description="Id of the unanswered survey.")


@strawberry.type(description="Shown once: the link works once, without a CRM login.")
class IssueSurveyLinkPayload:
    survey: Survey = strawberry.field(description="The survey the link answers.")
    token: str = strawberry.field(
        description="Single-use secret of the link; earlier links stop working."
    )
    response_url: str = strawberry.field(
        description="The public page where the customer answers, token included."
    )


@strawberry.input(description="E-mail a fresh single-use response link to the customer.")
class EmailSurveyInvitationInput:
    survey_id: strawberry.ID = strawberry.field(description="Id of the unanswered survey.")
    to: str | None = strawberry.field(
        default=None,
        description="Recipient address; default: the customer's primary contact's e-mail.",
    )


@strawberry.type(description="The invitation went into the e-mail queue (the link is in it only).")
class EmailSurveyInvitationPayload:
    survey: Survey = strawberry.field(description="The survey the link answers.")
    delivery: EmailDelivery = strawberry.field(
        description="The e-mail: QUEUED at first; read survey.deliveries for its outcome."
    )


@strawberry.input(description="The customer's score on one dimension, as said on the phone.")
class SurveyScoreInput:
    dimension: str = strawberry.field(description="Key of the survey dimension.")
    score: int = strawberry.field(description="1-5")


@strawberry.input(
    description="电话回访: the answers a customer gave an agent on a call, recorded for them."
)
class RecordSurveyByPhoneInput:
    survey_id: strawberry.ID = strawberry.field(description="Id of the unanswered survey.")
    scores: list[SurveyScoreInput] = strawberry.field(
        description="One 1-5 score per dimension of the survey, nothing else."
    )
    comment: str | None = strawberry.field(
        default=None, description="What the customer said, in the agent's words; optional."
    )


@strawberry.type(description="The survey with the recorded answers.")
class RecordSurveyByPhonePayload:
    survey: Survey = strawberry.field(
        description="The answered survey: channel PHONE, recordedBy the agent."
    )


# ---------------------------------------------------------------- improvement tasks


@strawberry.type(description="One step in an improvement task's life.")
class ImprovementTaskHistoryEntry:
    action: str = strawberry.field(
        description="OPENED, STARTED, REASSIGNED, MOVED_TEAM, RESCHEDULED, EDITED, OVERDUE, DONE "
        "or CANCELLED."
    )
    actor_id: str = strawberry.field(description="User id of who did it, or 'system'.")
    at: datetime = strawberry.field(description="When (ISO 8601, UTC).")
    note: str | None = strawberry.field(
        description="The new owner, team or due time, or the closure note; null otherwise."
    )


@strawberry.type(
    description="An improvement task (改进任务): what the desk does about a low survey score, a "
    "complaint or a manager's decision, tracked per team."
)
class ImprovementTask:
    id: strawberry.ID = strawberry.field(
        description="Stable id; derived from the survey or ticket for automatic tasks."
    )
    title: str = strawberry.field(description="What is to be improved.")
    description: str = strawberry.field(description="Details; may be empty.")
    source: ImprovementTaskSource = strawberry.field(  # type: ignore[valid-type]
        description="Why the task exists."
    )
    source_id: strawberry.ID | None = strawberry.field(
        description="Id of the survey (SURVEY) or ticket (TICKET) it came from; null for MANUAL."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        description="The customer concerned; null when about no single customer."
    )
    team: str | None = strawberry.field(
        description="The service team (department) tracking it; null if none."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        description="User id of who must carry it out; null until a manager assigns one."
    )
    status: ImprovementTaskStatus = strawberry.field(  # type: ignore[valid-type]
        description="Where the task is."
    )
    due_at: datetime = strawberry.field(description="When it must be done (ISO 8601, UTC).")
    overdue: bool = strawberry.field(description="Open past its due time, or closed after it.")
    overdue_announced_at: datetime | None = strawberry.field(
        description="When the overdue monitor announced it (improvement_task_overdue); null "
        "if not (yet)."
    )
    opened_by: str = strawberry.field(description="User id of who opened it, or 'system'.")
    created_at: datetime = strawberry.field(description="When it was opened (ISO 8601, UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (ISO 8601, UTC).")
    closed_at: datetime | None = strawberry.field(
        description="When it was closed (DONE or CANCELLED); null while open."
    )
    closure_note: str | None = strawberry.field(
        description="What was done (or why it was cancelled); null while open."
    )
    history: list[ImprovementTaskHistoryEntry] = strawberry.field(
        description="Every step, oldest first."
    )

    @classmethod
    def from_model(cls, m: task_model.ImprovementTask, now: datetime) -> ImprovementTask:
        return cls(
            id=strawberry.ID(m.id),
            title=m.title,
            description=m.description,
            source=m.source,
            source_id=strawberry.ID(m.source_id) if m.source_id else None,
            customer_id=strawberry.ID(m.customer_id) if m.customer_id else None,
            team=m.team,
            owner_id=strawberry.ID(m.owner_id) if m.owner_id else None,
            status=m.status,
            due_at=m.due_at,
            overdue=m.overdue(now),
            overdue_announced_at=m.overdue_at,
            opened_by=m.opened_by,
            created_at=m.created_at,
            updated_at=m.updated_at,
            closed_at=m.closed_at,
            closure_note=m.closure_note,
            history=[
                ImprovementTaskHistoryEntry(
                    action=h.action, actor_id=h.actor_id, at=h.at, note=h.note
                )
                for h in m.history
            ],
        )


@strawberry.input(description="Which improvement tasks to list; every given condition holds.")
class ImprovementTaskFilter:
    status: list[ImprovementTaskStatus] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Any of these statuses."
    )
    team: str | None = strawberry.field(default=None, description="Of this team.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Owned by this user."
    )
    source: ImprovementTaskSource | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="From this kind of source."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="About this customer."
    )
    overdue: bool | None = strawberry.field(
        default=None,
        description="true: open past due or closed late; false: the others; null: both.",
    )

    def to_model(self) -> service_ports.TaskFilter:
        return service_ports.TaskFilter(
            status=tuple(self.status) if self.status else None,
            team=self.team,
            owner_id=str(self.owner_id) if self.owner_id else None,
            source=self.source,
            customer_id=str(self.customer_id) if self.customer_id else None,
            overdue=self.overdue,
        )


@strawberry.input(description="An improvement task opened by a service manager or admin.")
class CreateImprovementTaskInput:
    title: str = strawberry.field(description="What is to be improved (not blank).")
    owner_id: strawberry.ID = strawberry.field(description="User id of who carries it out.")
    due_at: datetime = strawberry.field(
        description="When it must be done (ISO 8601 with offset; at most a year ahead)."
    )
    description: str | None = strawberry.field(default=None, description="Details; optional.")
    team: str | None = strawberry.field(
        default=None,
        description="An existing department; default: a service manager's own team.",
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer concerned, if one."
    )
    source: ImprovementTaskSource = strawberry.field(  # type: ignore[valid-type]
        default=task_model.TaskSource.MANUAL,
        description="MANUAL (default), or SURVEY/TICKET to link a decision to one.",
    )
    source_id: strawberry.ID | None = strawberry.field(
        default=None, description="The survey or ticket id when source is SURVEY or TICKET."
    )


@strawberry.input(
    description="Change an open task: its owner may only start it (status IN_PROGRESS); its "
    "team's service manager or an admin may change anything. Null leaves a field as it is."
)
class UpdateImprovementTaskInput:
    task_id: strawberry.ID = strawberry.field(description="Id of the open task.")
    status: ImprovementTaskStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="IN_PROGRESS only (close with closeImprovementTask)."
    )
    title: str | None = strawberry.field(default=None, description="New title.")
    description: str | None = strawberry.field(default=None, description="New details.")
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="New owner.")
    team: str | None = strawberry.field(default=None, description="Move to this department.")
    due_at: datetime | None = strawberry.field(
        default=None, description="New due time (an overdue task may be announced again)."
    )


@strawberry.input(description="Close an open task with a note: DONE or CANCELLED.")
class CloseImprovementTaskInput:
    task_id: strawberry.ID = strawberry.field(description="Id of the open task.")
    outcome: ImprovementTaskStatus = strawberry.field(  # type: ignore[valid-type]
        description="DONE or CANCELLED."
    )
    note: str = strawberry.field(description="What was done, or why it is cancelled (not blank).")


@strawberry.type(description="The improvement task after the change.")
class ImprovementTaskPayload:
    task: ImprovementTask = strawberry.field(description="The task as stored.")


@strawberry.type(description="A customer's service at a glance, as far as you may see it.")
class ServiceSummary:
    tickets: int = strawberry.field(description="Tickets, all time.")
    open_tickets: int = strawberry.field(description="Tickets not resolved or closed.")
    complaints: int = strawberry.field(description="Tickets of category COMPLAINT.")
    service_orders: int = strawberry.field(description="Service orders, all time.")
    open_service_orders: int = strawberry.field(description="Service orders not delivered.")
    surveys_answered: int = strawberry.field(description="Answered surveys (link or phone).")
    last_survey_average: float | None = strawberry.field(
        description="Mean score (1-5) of the latest answered survey; null if none."
    )
    last_survey_at: datetime | None = strawberry.field(
        description="When the latest survey was answered; null if none."
    )
    last_survey_channel: SurveyChannel | None = strawberry.field(  # type: ignore[valid-type]
        description="How the latest survey was answered; null if none."
    )
    open_improvement_tasks: int = strawberry.field(
        description="Improvement tasks about the customer still open."
    )
    last_service_at: datetime | None = strawberry.field(
        description="The latest ticket, service order or survey answer; null if none."
    )

    @classmethod
    def from_model(cls, m: service_ports.ServiceSummary) -> ServiceSummary:
        return cls(
            tickets=m.tickets,
            open_tickets=m.open_tickets,
            complaints=m.complaints,
            service_orders=m.service_orders,
            open_service_orders=m.open_service_orders,
            surveys_answered=m.surveys_answered,
            last_survey_average=m.last_survey_average,
            last_survey_at=m.last_survey_at,
            last_survey_channel=(
                survey_model.SurveyChannel(m.last_survey_channel) if m.last_survey_channel else None
            ),
            open_improvement_tasks=m.open_improvement_tasks,
            last_service_at=m.last_service_at,
        )


# ---------------------------------------------------------------- knowledge base


@strawberry.type(description="A knowledge-base article.")
class Article:
    id: strawberry.ID = strawberry.field(description="Stable id of the article.")
    title: str = strawberry.field(description="Article title.")
    body: str = strawberry.field(description="Article text (plain text or Markdown).")
    kind: ArticleKind = strawberry.field(description="What the article records.")  # type: ignore[valid-type]
    tags: list[str] = strawberry.field(description="Labels for search, in the order given.")
    author_id: strawberry.ID = strawberry.field(description="User id of who published it.")
    published_at: datetime = strawberry.field(description="When it was published (ISO 8601, UTC).")
    source_ticket_id: strawberry.ID | None = strawberry.field(
        description="Id of the ticket it was promoted from; null if written directly."
    )

    @classmethod
    def from_model(cls, m: article_model.Article) -> Article:
        return cls(
            id=strawberry.ID(m.id),
            title=m.title,
            body=m.body,
            kind=m.kind,
            tags=list(m.tags),
            author_id=strawberry.ID(m.author_id),
            published_at=m.published_at,
            source_ticket_id=strawberry.ID(m.source_ticket_id) if m.source_ticket_id else None,
        )


@strawberry.input(description="An article to publish.")
class PublishArticleInput:
    title: str = strawberry.field(description="Article title (not blank).")
    body: str = strawberry.field(description="Article text (plain text or Markdown; not blank).")
    kind: ArticleKind = strawberry.field(description="What the article records.")  # type: ignore[valid-type]
    tags: list[str] = strawberry.field(default_factory=list, description="Labels for search.")


@strawberry.input(description="Turn a resolved ticket into an article.")
class PromoteTicketInput:
    ticket_id: strawberry.ID = strawberry.field(description="Id of the resolved or closed ticket.")
    kind: ArticleKind = strawberry.field(  # type: ignore[valid-type]
        default=article_model.ArticleKind.TYPICAL_PROBLEM,
        description="What the article records; TYPICAL_PROBLEM if not given.",
    )
    tags: list[str] = strawberry.field(default_factory=list, description="Labels for search.")
    title: str | None = strawberry.field(default=None, description="Default: the ticket's")
    body: str | None = strawberry.field(
        default=None, description="Default: the problem and its resolution"
    )


@strawberry.type(description="The article as published.")
class ArticlePayload:
    article: Article = strawberry.field(description="The published article.")


# ---------------------------------------------------------------- federation


@strawberry.federation.type(keys=["id"], description="A customer, as the service desk sees it.")
class Customer:
    id: strawberry.ID = strawberry.field(
        description="Id of the customer (owned by the customer service)."
    )

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        # Nothing to load: the fields below read by customer id and check access themselves.
        return cls(id=id)

    @strawberry.field(description="Tickets of this customer, newest first.")
    async def tickets(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Ticket]:
        service = services_of(info).tickets(principal_of(info))
        page = await service.for_customer(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, Ticket.from_model)

    @strawberry.field(description="Service orders of this customer, newest first.")
    async def service_orders(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[ServiceOrder]:
        service = services_of(info).orders(principal_of(info))
        page = await service.for_customer(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, ServiceOrder.from_model)

    @strawberry.field(description="Satisfaction surveys of this customer, newest first.")
    async def surveys(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Survey]:
        service = services_of(info).surveys(principal_of(info))
        page = await service.for_customer(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, Survey.from_model)

    @strawberry.field(description="Improvement tasks about this customer, soonest due first.")
    async def improvement_tasks(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[ImprovementTask]:
        service = services_of(info).improvement_tasks(principal_of(info))
        page = await service.for_customer(str(self.id), PageRequest(first=first, after=after))
        now = utc_now()
        return to_connection(page, lambda m: ImprovementTask.from_model(m, now))

    @strawberry.field(
        description="The profile's service summary: tickets, orders, surveys (last CSAT) and "
        "open improvement tasks of this customer that you may see."
    )
    async def service_summary(self, info: strawberry.Info) -> ServiceSummary:
        service = services_of(info).service_summary(principal_of(info))
        return ServiceSummary.from_model(await service.for_customer(str(self.id)))
