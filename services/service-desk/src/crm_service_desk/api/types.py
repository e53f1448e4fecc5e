"""GraphQL types of the service-desk subgraph."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from crm_common.graphql.filters import DateTimeFilter, EnumFilter, IDFilter, StringFilter
from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_service_desk.api.context import principal_of, services_of
from crm_service_desk.domain import article as article_model
from crm_service_desk.domain import service_order as order_model
from crm_service_desk.domain import survey as survey_model
from crm_service_desk.domain import ticket as ticket_model

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


@strawberry.federation.type(shareable=True, description="An exact amount of money.")
class Money:
    amount_minor: str = strawberry.field(
        description="Integer amount in the currency's minor unit (fen, cents), as a string"
    )
    currency: str = strawberry.field(description="ISO 4217 code")


# ---------------------------------------------------------------- tickets


@strawberry.type(description="One step in a ticket's life: what, who, when.")
class TicketHistoryEntry:
    action: str
    actor_id: str
    at: datetime
    from_status: TicketStatus | None  # type: ignore[valid-type]
    to_status: TicketStatus | None  # type: ignore[valid-type]
    note: str | None


@strawberry.type(description="A customer's request for help, tracked until it is closed.")
class Ticket:
    id: strawberry.ID
    customer_id: strawberry.ID
    title: str
    description: str
    category: TicketCategory  # type: ignore[valid-type]
    priority: TicketPriority  # type: ignore[valid-type]
    status: TicketStatus  # type: ignore[valid-type]
    department: str | None
    assignee_id: strawberry.ID | None
    opened_by: strawberry.ID = strawberry.field(description="Who opened it")
    created_at: datetime
    response_due_at: datetime = strawberry.field(description="First response due (SLA)")
    resolution_due_at: datetime = strawberry.field(description="Resolution due (SLA)")
    responded_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None = strawberry.field(description="How it was resolved")
    response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    escalated: bool = strawberry.field(description="An SLA breach escalated it")
    escalated_to: strawberry.ID | None = strawberry.field(description="The department lead")
    escalated_at: datetime | None
    history: list[TicketHistoryEntry]

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
    and_: list[TicketFilter] | None = strawberry.field(default=None, name="and")
    or_: list[TicketFilter] | None = strawberry.field(default=None, name="or")
    not_: TicketFilter | None = strawberry.field(default=None, name="not")
    id: IDFilter | None = None
    customer_id: IDFilter | None = None
    status: EnumFilter[ticket_model.TicketStatus] | None = None
    priority: EnumFilter[ticket_model.TicketPriority] | None = None
    category: EnumFilter[ticket_model.TicketCategory] | None = None
    department: StringFilter | None = None
    assignee_id: IDFilter | None = None
    escalated_to: IDFilter | None = None
    title: StringFilter | None = None
    created_at: DateTimeFilter | None = None
    resolution_due_at: DateTimeFilter | None = None


@strawberry.input(description="A ticket to open for a customer; it starts as NEW.")
class OpenTicketInput:
    customer_id: strawberry.ID
    title: str = strawberry.field(description="1 to 200 characters")
    description: str | None = None
    category: TicketCategory = ticket_model.TicketCategory.OTHER  # type: ignore[valid-type]
    priority: TicketPriority = ticket_model.TicketPriority.MEDIUM  # type: ignore[valid-type]
    department: str | None = strawberry.field(default=None, description="Dispatch right away")


@strawberry.input(description="Dispatch a ticket to a department and an assignee.")
class AssignTicketInput:
    ticket_id: strawberry.ID
    department: str
    assignee_id: strawberry.ID


@strawberry.input(description="Move a ticket along its workflow.")
class ChangeTicketStatusInput:
    ticket_id: strawberry.ID
    status: TicketStatus  # type: ignore[valid-type]
    note: str | None = strawberry.field(
        default=None, description="For RESOLVED: how it was resolved"
    )


@strawberry.input(description="Reopen a resolved or closed ticket.")
class ReopenTicketInput:
    ticket_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class TicketPayload:
    ticket: Ticket


@strawberry.type(description="Due times of one priority in the tenant's SLA table.")
class SlaTarget:
    priority: TicketPriority  # type: ignore[valid-type]
    response_seconds: int
    resolution_seconds: int

    @classmethod
    def from_model(cls, m: ticket_model.SlaTarget) -> SlaTarget:
        return cls(
            priority=m.priority,
            response_seconds=m.response_seconds,
            resolution_seconds=m.resolution_seconds,
        )


@strawberry.input
class SlaTargetInput:
    priority: TicketPriority  # type: ignore[valid-type]
    response_seconds: int
    resolution_seconds: int


@strawberry.input(description="Override rows of the tenant's SLA table (admin).")
class SetSlaPolicyInput:
    targets: list[SlaTargetInput]


@strawberry.type
class SlaPolicyPayload:
    targets: list[SlaTarget]


@strawberry.type(description="A service department; its lead receives SLA escalations.")
class Department:
    name: str
    lead_id: strawberry.ID | None


@strawberry.input(description="Create or change a department (admin).")
class SetDepartmentInput:
    name: str
    lead_id: strawberry.ID | None = None


@strawberry.type
class DepartmentsPayload:
    departments: list[Department]


# ---------------------------------------------------------------- service orders


@strawberry.type(description="A file reference or link handed over in a stage.")
class Deliverable:
    name: str
    kind: DeliverableKind  # type: ignore[valid-type]
    reference: str = strawberry.field(description="Stored file id, or an http(s) URL")
    added_by: strawberry.ID
    added_at: datetime


@strawberry.type(description="One delivery stage of a service order.")
class ServiceOrderStage:
    stage: ServiceStage  # type: ignore[valid-type]
    progress: int = strawberry.field(description="0-100")
    started_at: datetime | None
    completed_at: datetime | None
    deliverables: list[Deliverable]


@strawberry.type(description="A delivery for a customer, stage by stage.")
class ServiceOrder:
    id: strawberry.ID
    customer_id: strawberry.ID
    title: str
    content: str
    source: ServiceOrderSource  # type: ignore[valid-type]
    quote_id: strawberry.ID | None
    quote_number: str | None
    amount: Money | None = strawberry.field(description="The accepted quote's total")
    owner_id: strawberry.ID
    team: str | None
    delivery_start: date | None
    delivery_end: date | None
    status: ServiceOrderStatus  # type: ignore[valid-type]
    current_stage: ServiceStage | None  # type: ignore[valid-type]
    progress: int = strawberry.field(description="Mean progress of the stages, 0-100")
    stages: list[ServiceOrderStage]
    created_at: datetime
    delivered_at: datetime | None

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
    customer_id: strawberry.ID
    title: str
    content: str | None = None
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="Default: you")
    team: str | None = strawberry.field(default=None, description="Default: your team")
    delivery_start: date | None = None
    delivery_end: date | None = None


@strawberry.input(description="Change an order's details; omitted fields stay as they are.")
class UpdateServiceOrderInput:
    order_id: strawberry.ID
    title: str | None = None
    content: str | None = None
    owner_id: strawberry.ID | None = None
    team: str | None = None
    delivery_start: date | None = None
    delivery_end: date | None = None


@strawberry.input(description="Complete the stage in work and start the next (or deliver).")
class AdvanceServiceOrderInput:
    order_id: strawberry.ID


@strawberry.input(description="Report progress (0-99) on the stage in work.")
class ReportStageProgressInput:
    order_id: strawberry.ID
    stage: ServiceStage  # type: ignore[valid-type]
    progress: int


@strawberry.input(description="Attach a file reference or link to a stage.")
class AddDeliverableInput:
    order_id: strawberry.ID
    stage: ServiceStage  # type: ignore[valid-type]
    name: str
    kind: DeliverableKind  # type: ignore[valid-type]
    reference: str


@strawberry.type
class ServiceOrderPayload:
    service_order: ServiceOrder


# ---------------------------------------------------------------- surveys


@strawberry.type(description="One thing a survey asks to score.")
class SurveyDimension:
    key: str
    label: str


@strawberry.type
class SurveyScore:
    dimension: str
    score: int = strawberry.field(description="1-5")


@strawberry.type(description="A satisfaction survey sent after a delivery or a resolution.")
class Survey:
    id: strawberry.ID
    customer_id: strawberry.ID
    subject_type: SurveySubject  # type: ignore[valid-type]
    subject_id: strawberry.ID
    template_id: strawberry.ID
    dimensions: list[SurveyDimension]
    status: SurveyStatus  # type: ignore[valid-type]
    sent_at: datetime
    scores: list[SurveyScore]
    comment: str | None
    responded_at: datetime | None

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
        )


@strawberry.type(description="A survey template: the dimensions customers score.")
class SurveyTemplate:
    id: strawberry.ID
    name: str
    subject: SurveySubject | None  # type: ignore[valid-type]
    dimensions: list[SurveyDimension]

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
    dimension: str
    responses: int
    average_score: float
    csat_percent: float = strawberry.field(description="Share of 4 and 5 scores, in percent")

    @classmethod
    def from_model(cls, m: survey_model.DimensionCsat) -> DimensionCsat:
        return cls(
            dimension=m.dimension,
            responses=m.responses,
            average_score=round(m.average, 2),
            csat_percent=round(m.csat_percent, 1),
        )


@strawberry.input
class SurveyDimensionInput:
    key: str = strawberry.field(description="lower_snake_case")
    label: str


@strawberry.input(description="A survey template (service manager or admin).")
class CreateSurveyTemplateInput:
    name: str
    dimensions: list[SurveyDimensionInput]
    subject: SurveySubject | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Used for this kind of subject only; null for both"
    )


@strawberry.type
class SurveyTemplatePayload:
    template: SurveyTemplate


@strawberry.input(description="Issue a fresh single-use response link for an unanswered survey.")
class IssueSurveyLinkInput:
    survey_id: strawberry.ID


@strawberry.type(description="Shown once: the link works once, without a CRM login.")
class IssueSurveyLinkPayload:
    survey: Survey
    token: str
    response_url: str


# ---------------------------------------------------------------- knowledge base


@strawberry.type(description="A knowledge-base article.")
class Article:
    id: strawberry.ID
    title: str
    body: str
    kind: ArticleKind  # type: ignore[valid-type]
    tags: list[str]
    author_id: strawberry.ID
    published_at: datetime
    source_ticket_id: strawberry.ID | None

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
    title: str
    body: str
    kind: ArticleKind  # type: ignore[valid-type]
    tags: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Turn a resolved ticket into an article.")
class PromoteTicketInput:
    ticket_id: strawberry.ID
    kind: ArticleKind = article_model.ArticleKind.TYPICAL_PROBLEM  # type: ignore[valid-type]
    tags: list[str] = strawberry.field(default_factory=list)
    title: str | None = strawberry.field(default=None, description="Default: the ticket's")
    body: str | None = strawberry.field(
        default=None, description="Default: the problem and its resolution"
    )


@strawberry.type
class ArticlePayload:
    article: Article


# ---------------------------------------------------------------- federation


@strawberry.federation.type(keys=["id"], description="A customer, as the service desk sees it.")
class Customer:
    id: strawberry.ID

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
