"""Root fields of the service-desk subgraph."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import strawberry

from crm_common.clock import utc_now
from crm_common.errors import BadUserInput, NotFound
from crm_common.graphql.email import EmailDelivery
from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.live import record_changes, record_events
from crm_common.pagination import PageRequest
from crm_service_desk.api import types as t
from crm_service_desk.api.context import principal_of, services_of
from crm_service_desk.domain.article import ArticleKind as ArticleKindModel
from crm_service_desk.domain.survey import SurveySubject as SurveySubjectModel
from crm_service_desk.domain.ticket import SlaTarget as SlaTargetModel
from crm_service_desk.service.improvement import NewTaskCommand
from crm_service_desk.service.orders import OpenOrderCommand
from crm_service_desk.service.ports import TaskFilter
from crm_service_desk.service.tickets import OpenTicketCommand


def _page(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    return PageRequest(first=first, after=after, last=last, before=before)


def _departments(found: dict[str, str | None]) -> list[t.Department]:
    return [
        t.Department(name=name, lead_id=strawberry.ID(lead) if lead else None)
        for name, lead in found.items()
    ]


@strawberry.type
class Query:
    @strawberry.field(description="One ticket by id; null if absent or not yours to see.")
    async def ticket(self, info: strawberry.Info, id: strawberry.ID) -> t.Ticket | None:
        found = await services_of(info).tickets(principal_of(info)).get(str(id))
        return t.Ticket.from_model(found) if found else None

    @strawberry.field(description="Tickets you may see, newest first.")
    async def tickets(
        self,
        info: strawberry.Info,
        filter: t.TicketFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.Ticket]:
        service = services_of(info).tickets(principal_of(info))
        page = await service.listing(filter, _page(first, after, last, before))
        return to_connection(page, t.Ticket.from_model)

    @strawberry.field(description="The tenant's SLA table (defaults where not overridden).")
    async def sla_policy(self, info: strawberry.Info) -> list[t.SlaTarget]:
        table = await services_of(info).desk(principal_of(info)).sla_table()
        return [t.SlaTarget.from_model(target) for target in table.values()]

    @strawberry.field(description="The tenant's service departments and their leads.")
    async def departments(self, info: strawberry.Info) -> list[t.Department]:
        return _departments(await services_of(info).desk(principal_of(info)).departments())

    @strawberry.field(description="One service order by id; null if absent or not yours to see.")
    async def service_order(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> t.ServiceOrder | None:
        found = await services_of(info).orders(principal_of(info)).get(str(id))
        return t.ServiceOrder.from_model(found) if found else None

    @strawberry.field(description="Service orders you may see, newest first.")
    async def service_orders(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.ServiceOrder]:
        service = services_of(info).orders(principal_of(info))
        page = await service.listing(_page(first, after, last, before))
        return to_connection(page, t.ServiceOrder.from_model)

    @strawberry.field(description="One survey by id; null if absent or not yours to see.")
    async def survey(self, info: strawberry.Info, id: strawberry.ID) -> t.Survey | None:
        found = await services_of(info).surveys(principal_of(info)).get(str(id))
        return t.Survey.from_model(found) if found else None

    @strawberry.field(description="Surveys you may see, newest first.")
    async def surveys(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.Survey]:
        service = services_of(info).surveys(principal_of(info))
        page = await service.listing(_page(first, after, last, before))
        return to_connection(page, t.Survey.from_model)

    @strawberry.field(description="Survey templates; the built-in `default` comes first.")
    async def survey_templates(self, info: strawberry.Info) -> list[t.SurveyTemplate]:
        found = await services_of(info).surveys(principal_of(info)).templates()
        return [t.SurveyTemplate.from_model(m) for m in found]

    @strawberry.field(
        description="CSAT per dimension over the answered surveys you may see (link and phone "
        "answers alike unless `channel` picks one)."
    )
    async def csat(
        self,
        info: strawberry.Info,
        customer_id: strawberry.ID | None = None,
        subject_type: t.SurveySubject | None = None,  # type: ignore[valid-type]
        channel: Annotated[
            t.SurveyChannel | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only answers given this way (LINK or PHONE)."),
        ] = None,
    ) -> list[t.DimensionCsat]:
        service = services_of(info).surveys(principal_of(info))
        rows = await service.csat(str(customer_id) if customer_id else None, subject_type, channel)
        return [t.DimensionCsat.from_model(r) for r in rows]

    @strawberry.field(description="One improvement task by id; null if absent or not yours.")
    async def improvement_task(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> t.ImprovementTask | None:
        found = await services_of(info).improvement_tasks(principal_of(info)).get(str(id))
        return t.ImprovementTask.from_model(found, utc_now()) if found else None

    @strawberry.field(
        description="Improvement tasks you may see (your team's, the ones you own, or all for "
        "agents, admins and analysts), soonest due first."
    )
    async def improvement_tasks(
        self,
        info: strawberry.Info,
        filter: t.ImprovementTaskFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[t.ImprovementTask]:
        service = services_of(info).improvement_tasks(principal_of(info))
        chosen = filter.to_model() if filter else TaskFilter()
        page = await service.listing(chosen, _page(first, after, last, before))
        now = utc_now()
        return to_connection(page, lambda m: t.ImprovementTask.from_model(m, now))

    @strawberry.field(description="One knowledge-base article by id.")
    async def article(self, info: strawberry.Info, id: strawberry.ID) -> t.Article | None:
        found = await services_of(info).articles(principal_of(info)).get(str(id))
        return t.Article.from_model(found) if found else None

    @strawberry.field(
        description="Articles containing every word of `query` and every tag, newest first."
    )
    async def search_articles(
        self,
        info: strawberry.Info,
        query: str | None = None,
        tags: list[str] | None = None,
        kind: t.ArticleKind | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Article]:
        service = services_of(info).articles(principal_of(info))
        page = await service.search(query, tags or [], kind, PageRequest(first=first, after=after))
        return to_connection(page, t.Article.from_model)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Open a ticket for a customer; SLA due times are set.")
    async def open_ticket(self, info: strawberry.Info, input: t.OpenTicketInput) -> t.TicketPayload:
        ticket = (
            await services_of(info)
            .tickets(principal_of(info))
            .open(
                OpenTicketCommand(
                    customer_id=str(input.customer_id),
                    title=input.title,
                    priority=input.priority,
                    description=input.description,
                    category=input.category,
                    department=input.department,
                )
            )
        )
        return t.TicketPayload(ticket=t.Ticket.from_model(ticket))

    @strawberry.mutation(description="Dispatch a ticket to a department and assignee.")
    async def assign_ticket(
        self, info: strawberry.Info, input: t.AssignTicketInput
    ) -> t.TicketPayload:
        ticket = (
            await services_of(info)
            .tickets(principal_of(info))
            .assign(str(input.ticket_id), input.department, str(input.assignee_id))
        )
        return t.TicketPayload(ticket=t.Ticket.from_model(ticket))

    @strawberry.mutation(description="Move a ticket along its workflow (illegal moves refused).")
    async def change_ticket_status(
        self, info: strawberry.Info, input: t.ChangeTicketStatusInput
    ) -> t.TicketPayload:
        ticket = (
            await services_of(info)
            .tickets(principal_of(info))
            .change_status(str(input.ticket_id), input.status, input.note)
        )
        return t.TicketPayload(ticket=t.Ticket.from_model(ticket))

    @strawberry.mutation(description="Reopen a resolved or closed ticket.")
    async def reopen_ticket(
        self, info: strawberry.Info, input: t.ReopenTicketInput
    ) -> t.TicketPayload:
        ticket = (
            await services_of(info)
            .tickets(principal_of(info))
            .reopen(str(input.ticket_id), input.reason)
        )
        return t.TicketPayload(ticket=t.Ticket.from_model(ticket))

    @strawberry.mutation(description="Override rows of the tenant's SLA table (admin).")
    async def set_sla_policy(
        self, info: strawberry.Info, input: t.SetSlaPolicyInput
    ) -> t.SlaPolicyPayload:
        table = (
            await services_of(info)
            .desk(principal_of(info))
            .set_sla(
                [
                    SlaTargetModel(row.priority, row.response_seconds, row.resolution_seconds)
                    for row in input.targets
                ]
            )
        )
        return t.SlaPolicyPayload(targets=[t.SlaTarget.from_model(x) for x in table.values()])

    @strawberry.mutation(description="Create or change a department and its lead (admin).")
    async def set_department(
        self, info: strawberry.Info, input: t.SetDepartmentInput
    ) -> t.DepartmentsPayload:
        found = (
            await services_of(info)
            .desk(principal_of(info))
            .set_department(input.name, str(input.lead_id) if input.lead_id else None)
        )
        return t.DepartmentsPayload(departments=_departments(found))

    @strawberry.mutation(description="Open a service order by hand.")
    async def open_service_order(
        self, info: strawberry.Info, input: t.OpenServiceOrderInput
    ) -> t.ServiceOrderPayload:
        order = (
            await services_of(info)
            .orders(principal_of(info))
            .open(
                OpenOrderCommand(
                    customer_id=str(input.customer_id),
                    title=input.title,
                    content=input.content,
                    owner_id=str(input.owner_id) if input.owner_id else None,
                    team=input.team,
                    delivery_start=input.delivery_start,
                    delivery_end=input.delivery_end,
                )
            )
        )
        return t.ServiceOrderPayload(service_order=t.ServiceOrder.from_model(order))

    @strawberry.mutation(description="Change a service order's details.")
    async def update_service_order(
        self, info: strawberry.Info, input: t.UpdateServiceOrderInput
    ) -> t.ServiceOrderPayload:
        order = (
            await services_of(info)
            .orders(principal_of(info))
            .update(
                str(input.order_id),
                title=input.title,
                content=input.content,
                owner_id=str(input.owner_id) if input.owner_id else None,
                team=input.team,
                delivery_start=input.delivery_start,
                delivery_end=input.delivery_end,
            )
        )
        return t.ServiceOrderPayload(service_order=t.ServiceOrder.from_model(order))

    @strawberry.mutation(description="Complete the stage in work and start the next, or deliver.")
    async def advance_service_order(
        self, info: strawberry.Info, input: t.AdvanceServiceOrderInput
    ) -> t.ServiceOrderPayload:
        order = await services_of(info).orders(principal_of(info)).advance(str(input.order_id))
        return t.ServiceOrderPayload(service_order=t.ServiceOrder.from_model(order))

    @strawberry.mutation(description="Report progress on the stage in work.")
    async def report_stage_progress(
        self, info: strawberry.Info, input: t.ReportStageProgressInput
    ) -> t.ServiceOrderPayload:
        order = (
            await services_of(info)
            .orders(principal_of(info))
            .report_progress(str(input.order_id), input.stage, input.progress)
        )
        return t.ServiceOrderPayload(service_order=t.ServiceOrder.from_model(order))

    @strawberry.mutation(description="Attach a deliverable (file reference or link) to a stage.")
    async def add_deliverable(
        self, info: strawberry.Info, input: t.AddDeliverableInput
    ) -> t.ServiceOrderPayload:
        order = (
            await services_of(info)
            .orders(principal_of(info))
            .add_deliverable(
                str(input.order_id), input.stage, input.name, input.kind, input.reference
            )
        )
        return t.ServiceOrderPayload(service_order=t.ServiceOrder.from_model(order))

    @strawberry.mutation(description="Define a survey template (service manager or admin).")
    async def create_survey_template(
        self, info: strawberry.Info, input: t.CreateSurveyTemplateInput
    ) -> t.SurveyTemplatePayload:
        subject: SurveySubjectModel | None = input.subject
        template = (
            await services_of(info)
            .surveys(principal_of(info))
            .create_template(input.name, [(d.key, d.label) for d in input.dimensions], subject)
        )
        return t.SurveyTemplatePayload(template=t.SurveyTemplate.from_model(template))

    @strawberry.mutation(
        description="A fresh single-use response link for an unanswered survey (shown once)."
    )
    async def issue_survey_link(
        self, info: strawberry.Info, input: t.IssueSurveyLinkInput
    ) -> t.IssueSurveyLinkPayload:
        issued = (
            await services_of(info).surveys(principal_of(info)).issue_link(str(input.survey_id))
        )
        return t.IssueSurveyLinkPayload(
            survey=t.Survey.from_model(issued.survey), token=issued.token, response_url=issued.url
        )

    @strawberry.mutation(
        description="E-mail a fresh single-use response link for an unanswered survey to the "
        "customer's primary contact (or `to`); earlier links stop working. The link is in the "
        "e-mail only; its delivery (SENT, or FAILED with the server's answer) is on "
        "survey.deliveries."
    )
    async def email_survey_invitation(
        self, info: strawberry.Info, input: t.EmailSurveyInvitationInput
    ) -> t.EmailSurveyInvitationPayload:
        credentials = info.context.request.headers.get("Authorization")
        survey, delivery = (
            await services_of(info)
            .surveys(principal_of(info))
            .email_invitation(str(input.survey_id), input.to, credentials)
        )
        return t.EmailSurveyInvitationPayload(
            survey=t.Survey.from_model(survey), delivery=EmailDelivery.of(delivery)
        )

    @strawberry.mutation(
        description="电话回访: record the answers a customer gave on a follow-up call (service "
        "agents, managers, admins). Marked PHONE with your user id; counts in CSAT; the survey's "
        "link stops working. CONFLICT if the survey is answered already."
    )
    async def record_survey_by_phone(
        self, info: strawberry.Info, input: t.RecordSurveyByPhoneInput
    ) -> t.RecordSurveyByPhonePayload:
        scores: dict[str, object] = {}
        for i, row in enumerate(input.scores):
            if row.dimension in scores:
                raise BadUserInput("one score per dimension", field=f"input.scores.{i}.dimension")
            scores[row.dimension] = row.score
        survey = (
            await services_of(info)
            .surveys(principal_of(info))
            .record_phone_answers(str(input.survey_id), scores, input.comment)
        )
        return t.RecordSurveyByPhonePayload(survey=t.Survey.from_model(survey))

    @strawberry.mutation(
        description="Open an improvement task by hand (service manager for their team, or admin)."
    )
    async def create_improvement_task(
        self, info: strawberry.Info, input: t.CreateImprovementTaskInput
    ) -> t.ImprovementTaskPayload:
        task = (
            await services_of(info)
            .improvement_tasks(principal_of(info))
            .create(
                NewTaskCommand(
                    title=input.title,
                    owner_id=str(input.owner_id),
                    due_at=input.due_at,
                    description=input.description,
                    team=input.team,
                    customer_id=str(input.customer_id) if input.customer_id else None,
                    source=input.source,
                    source_id=str(input.source_id) if input.source_id else None,
                )
            )
        )
        return t.ImprovementTaskPayload(task=t.ImprovementTask.from_model(task, utc_now()))

    @strawberry.mutation(
        description="Change an open improvement task (its owner: start it; its team's manager or "
        "an admin: anything)."
    )
    async def update_improvement_task(
        self, info: strawberry.Info, input: t.UpdateImprovementTaskInput
    ) -> t.ImprovementTaskPayload:
        task = (
            await services_of(info)
            .improvement_tasks(principal_of(info))
            .update(
                str(input.task_id),
                title=input.title,
                description=input.description,
                owner_id=str(input.owner_id) if input.owner_id else None,
                team=input.team,
                due_at=input.due_at,
                status=input.status,
            )
        )
        return t.ImprovementTaskPayload(task=t.ImprovementTask.from_model(task, utc_now()))

    @strawberry.mutation(
        description="Close an open improvement task as DONE or CANCELLED with a note (its owner, "
        "its team's manager or an admin)."
    )
    async def close_improvement_task(
        self, info: strawberry.Info, input: t.CloseImprovementTaskInput
    ) -> t.ImprovementTaskPayload:
        task = (
            await services_of(info)
            .improvement_tasks(principal_of(info))
            .close(str(input.task_id), input.outcome, input.note)
        )
        return t.ImprovementTaskPayload(task=t.ImprovementTask.from_model(task, utc_now()))

    @strawberry.mutation(description="Publish a knowledge-base article.")
    async def publish_article(
        self, info: strawberry.Info, input: t.PublishArticleInput
    ) -> t.ArticlePayload:
        kind: ArticleKindModel = input.kind
        article = (
            await services_of(info)
            .articles(principal_of(info))
            .publish(input.title, input.body, kind, list(input.tags))
        )
        return t.ArticlePayload(article=t.Article.from_model(article))

    @strawberry.mutation(description="Promote a resolved ticket to a knowledge-base article.")
    async def promote_ticket_to_article(
        self, info: strawberry.Info, input: t.PromoteTicketInput
    ) -> t.ArticlePayload:
        kind: ArticleKindModel = input.kind
        article = (
            await services_of(info)
            .articles(principal_of(info))
            .promote(str(input.ticket_id), kind, list(input.tags), input.title, input.body)
        )
        return t.ArticlePayload(article=t.Article.from_model(article))


@strawberry.type(description="Live updates over graphql-transport-ws (or SSE through the gateway).")
class Subscription:
    @strawberry.subscription(
        description="The ticket after each change from now on (status, assignment, SLA breach, "
        "...). NOT_FOUND at once if it is not yours to see, and when it stops being so."
    )
    async def ticket_changed(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> AsyncIterator[t.Ticket]:
        principal = principal_of(info)
        services = services_of(info)
        tickets = services.tickets(principal)
        ticket_id = str(id)
        if await tickets.get(ticket_id) is None:
            raise NotFound(f"ticket {ticket_id} not found", field="id")
        changes = record_changes(
            services.live_feed(),
            record_events(principal.tenant_id, "crm.servicedesk.ticket_", "ticket_id", ticket_id),
            lambda: tickets.get(ticket_id),
            f"ticket {ticket_id}",
            viewer=principal,
            expires_at=principal.expires_at,
        )
        async for ticket in changes:
            yield t.Ticket.from_model(ticket)


def schema() -> SubgraphSchema:
    return build_schema(
        query=Query, mutation=Mutation, subscription=Subscription, types=[t.Customer]
    )
