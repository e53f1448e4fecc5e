"""Root fields of the quoting subgraph."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import strawberry

from crm_common.errors import NotFound
from crm_common.graphql.email import EmailDelivery
from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.live import record_changes, record_events
from crm_common.pagination import PageRequest
from crm_quoting.api.context import principal_of, services_of
from crm_quoting.api.types import (
    AddCatalogueItemInput,
    AddNeedInput,
    AddNeedPayload,
    AssessOpportunityInput,
    AssessOpportunityPayload,
    CatalogueItem,
    CatalogueItemPayload,
    CreateOpportunityInput,
    CreateOpportunityPayload,
    CreateQuoteInput,
    CreateSolutionInput,
    CreateSolutionPayload,
    Customer,
    DecideQuoteInput,
    MoveOpportunityInput,
    MoveOpportunityPayload,
    Need,
    Opportunity,
    OpportunityStage,
    PipelineColumn,
    Quote,
    QuoteDocument,
    QuoteIdInput,
    QuoteLineInput,
    QuotePayload,
    QuotingSettings,
    QuotingSettingsInput,
    QuotingSettingsPayload,
    RespondToQuoteInput,
    ReviseQuoteInput,
    SendQuoteByEmailInput,
    SendQuoteByEmailPayload,
    SetCataloguePriceInput,
    Solution,
    StageAmount,
)
from crm_quoting.service.catalogue import AddItemCommand, SettingsCommand
from crm_quoting.service.opportunities import (
    AssessOpportunityCommand,
    CreateOpportunityCommand,
    MoveOpportunityCommand,
)
from crm_quoting.service.quotes import CreateQuoteCommand, LineInput, ReviseQuoteCommand


def _lines(lines: list[QuoteLineInput]) -> list[LineInput]:
    return [
        LineInput(
            quantity=line.quantity,
            catalogue_item_id=str(line.catalogue_item_id) if line.catalogue_item_id else None,
            description=line.description,
            unit=line.unit,
            unit_price_minor=line.unit_price_minor,
            discount_bp=line.discount_bp,
            tax_rate_bp=line.tax_rate_bp,
        )
        for line in lines
    ]


@strawberry.type
class Query:
    @strawberry.field(description="One opportunity by id; null if absent or not yours to see.")
    async def opportunity(self, info: strawberry.Info, id: strawberry.ID) -> Opportunity | None:
        service = services_of(info).opportunities(principal_of(info))
        found = await service.get(str(id))
        return Opportunity.from_model(found) if found else None

    @strawberry.field(description="Opportunities you may see, newest first.")
    async def opportunities(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        customer_id: strawberry.ID | None = None,
        stage: OpportunityStage | None = None,  # type: ignore[valid-type]
    ) -> Connection[Opportunity]:
        service = services_of(info).opportunities(principal_of(info))
        page = await service.list_page(
            str(customer_id) if customer_id is not None else None,
            stage,
            PageRequest(first=first, after=after),
        )
        return to_connection(page, Opportunity.from_model)

    @strawberry.field(
        description="The pipeline board: every stage with its count and amount sums per currency."
    )
    async def opportunity_board(self, info: strawberry.Info) -> list[PipelineColumn]:
        service = services_of(info).opportunities(principal_of(info))
        return [
            PipelineColumn(
                stage=column.stage,
                count=column.count,
                amounts=[StageAmount(currency=c, amount_minor=str(a)) for c, a in column.amounts],
            )
            for column in await service.board()
        ]

    @strawberry.field(description="The solution library, by name.")
    async def solutions(self, info: strawberry.Info) -> list[Solution]:
        service = services_of(info).catalogue(principal_of(info))
        return [Solution.of(s) for s in await service.solutions()]

    @strawberry.field(description="Catalogue items, of one solution or all, by code.")
    async def catalogue_items(
        self, info: strawberry.Info, solution_id: strawberry.ID | None = None
    ) -> list[CatalogueItem]:
        service = services_of(info).catalogue(principal_of(info))
        items = await service.items(str(solution_id) if solution_id else None)
        return [CatalogueItem.of(i) for i in items]

    @strawberry.field(description="One quote version by id; null if absent or not yours to see.")
    async def quote(self, info: strawberry.Info, id: strawberry.ID) -> Quote | None:
        service = services_of(info).quotes(principal_of(info))
        found = await service.get(str(id))
        return Quote.from_model(found) if found else None

    @strawberry.field(description="Quotes you may see, newest first; one opportunity's if given.")
    async def quotes(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        opportunity_id: strawberry.ID | None = None,
    ) -> Connection[Quote]:
        service = services_of(info).quotes(principal_of(info))
        page = await service.list_page(
            str(opportunity_id) if opportunity_id else None, PageRequest(first=first, after=after)
        )
        return to_connection(page, Quote.from_model)

    @strawberry.field(
        description=(
            "The quote as a PDF for the customer (base64 inline): addressed to the customer's "
            "company and primary contact, Chinese text in an embedded font."
        )
    )
    async def quote_document(self, info: strawberry.Info, id: strawberry.ID) -> QuoteDocument:
        service = services_of(info).quotes(principal_of(info))
        credentials = info.context.request.headers.get("Authorization")
        document = await service.document(str(id), credentials)
        return QuoteDocument(
            filename=document.filename,
            content_type=document.content_type,
            base64=base64.b64encode(document.content).decode("ascii"),
            size_bytes=len(document.content),
        )

    @strawberry.field(description="This tenant's quoting settings.")
    async def quoting_settings(self, info: strawberry.Info) -> QuotingSettings:
        service = services_of(info).catalogue(principal_of(info))
        return QuotingSettings.of(await service.settings())


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Open an opportunity with a customer; you become its owner.")
    async def create_opportunity(
        self, info: strawberry.Info, input: CreateOpportunityInput
    ) -> CreateOpportunityPayload:
        service = services_of(info).opportunities(principal_of(info))
        opportunity = await service.create(
            CreateOpportunityCommand(
                customer_id=str(input.customer_id),
                name=input.name,
                amount_minor=input.amount.amount_minor if input.amount else 0,
                currency=input.amount.currency if input.amount else "CNY",
                probability=input.probability,
                expected_close_date=input.expected_close_date,
            )
        )
        return CreateOpportunityPayload(opportunity=Opportunity.from_model(opportunity))

    @strawberry.mutation(
        description="Move an opportunity along the pipeline (LOST needs a reason)."
    )
    async def move_opportunity(
        self, info: strawberry.Info, input: MoveOpportunityInput
    ) -> MoveOpportunityPayload:
        service = services_of(info).opportunities(principal_of(info))
        moved = await service.move(
            MoveOpportunityCommand(
                opportunity_id=str(input.id),
                stage=input.stage,
                probability=input.probability,
                loss_reason=input.loss_reason,
                note=input.note,
            )
        )
        return MoveOpportunityPayload(opportunity=Opportunity.from_model(moved))

    @strawberry.mutation(
        description="Assess an open opportunity (需求匹配度, 合作意向度, 决策进展); the history "
        "is kept, and the customer's follow-up cadence follows the recommendation."
    )
    async def assess_opportunity(
        self, info: strawberry.Info, input: AssessOpportunityInput
    ) -> AssessOpportunityPayload:
        service = services_of(info).opportunities(principal_of(info))
        assessed = await service.assess(
            AssessOpportunityCommand(
                opportunity_id=str(input.id),
                fit=input.fit,
                engagement=input.engagement,
                decision_progress=input.decision_progress,
            )
        )
        return AssessOpportunityPayload(opportunity=Opportunity.from_model(assessed))

    @strawberry.mutation(description="Add a solution to the library (admin).")
    async def create_solution(
        self, info: strawberry.Info, input: CreateSolutionInput
    ) -> CreateSolutionPayload:
        service = services_of(info).catalogue(principal_of(info))
        solution = await service.create_solution(input.name, input.kind, input.description)
        return CreateSolutionPayload(solution=Solution.of(solution))

    @strawberry.mutation(description="Add a catalogue item to a solution (admin).")
    async def add_catalogue_item(
        self, info: strawberry.Info, input: AddCatalogueItemInput
    ) -> CatalogueItemPayload:
        service = services_of(info).catalogue(principal_of(info))
        item = await service.add_item(
            AddItemCommand(
                solution_id=str(input.solution_id),
                code=input.code,
                name=input.name,
                unit=input.unit,
                list_price_minor=input.list_price.amount_minor,
                currency=input.list_price.currency,
                tax_rate_bp=input.tax_rate_bp,
            )
        )
        return CatalogueItemPayload(item=CatalogueItem.of(item))

    @strawberry.mutation(description="Set a new list price (a new price version; admin).")
    async def set_catalogue_price(
        self, info: strawberry.Info, input: SetCataloguePriceInput
    ) -> CatalogueItemPayload:
        service = services_of(info).catalogue(principal_of(info))
        item = await service.set_price(
            str(input.item_id),
            input.list_price.amount_minor,
            input.list_price.currency,
            input.tax_rate_bp,
        )
        return CatalogueItemPayload(item=CatalogueItem.of(item))

    @strawberry.mutation(description="Record a classified customer need on an opportunity.")
    async def add_need(self, info: strawberry.Info, input: AddNeedInput) -> AddNeedPayload:
        service = services_of(info).catalogue(principal_of(info))
        need = await service.add_need(str(input.opportunity_id), input.category, input.description)
        return AddNeedPayload(need=Need.of(need))

    @strawberry.mutation(description="Draft a quote (version 1) for an opportunity.")
    async def create_quote(self, info: strawberry.Info, input: CreateQuoteInput) -> QuotePayload:
        service = services_of(info).quotes(principal_of(info))
        quote = await service.create(
            CreateQuoteCommand(
                opportunity_id=str(input.opportunity_id),
                currency=input.currency,
                valid_until=input.valid_until,
                lines=_lines(input.lines),
            )
        )
        return QuotePayload(quote=Quote.from_model(quote))

    @strawberry.mutation(description="Submit a draft for approval (small discounts auto-approve).")
    async def submit_quote(self, info: strawberry.Info, input: QuoteIdInput) -> QuotePayload:
        service = services_of(info).quotes(principal_of(info))
        return QuotePayload(quote=Quote.from_model(await service.submit(str(input.id))))

    @strawberry.mutation(description="Approve a pending quote (a sales manager; not your own).")
    async def approve_quote(self, info: strawberry.Info, input: DecideQuoteInput) -> QuotePayload:
        service = services_of(info).quotes(principal_of(info))
        quote = await service.decide(str(input.id), approve=True, comment=input.comment)
        return QuotePayload(quote=Quote.from_model(quote))

    @strawberry.mutation(description="Reject a pending quote with a comment (a sales manager).")
    async def reject_quote(self, info: strawberry.Info, input: DecideQuoteInput) -> QuotePayload:
        service = services_of(info).quotes(principal_of(info))
        quote = await service.decide(str(input.id), approve=False, comment=input.comment)
        return QuotePayload(quote=Quote.from_model(quote))

    @strawberry.mutation(description="Send an approved quote to the customer.")
    async def send_quote(self, info: strawberry.Info, input: QuoteIdInput) -> QuotePayload:
        service = services_of(info).quotes(principal_of(info))
        return QuotePayload(quote=Quote.from_model(await service.send(str(input.id))))

    @strawberry.mutation(
        description="E-mail the quote's PDF to the customer's primary contact (or `to`) and mark "
        "an approved quote SENT. The e-mail is sent in the background with retries; its "
        "outcome (SENT, or FAILED with the mail server's answer) is on quote.deliveries."
    )
    async def send_quote_by_email(
        self, info: strawberry.Info, input: SendQuoteByEmailInput
    ) -> SendQuoteByEmailPayload:
        service = services_of(info).quotes(principal_of(info))
        credentials = info.context.request.headers.get("Authorization")
        quote, delivery = await service.send_by_email(str(input.id), input.to, credentials)
        return SendQuoteByEmailPayload(
            quote=Quote.from_model(quote), delivery=EmailDelivery.of(delivery)
        )

    @strawberry.mutation(description="Record the customer's answer; ACCEPT wins the opportunity.")
    async def respond_to_quote(
        self, info: strawberry.Info, input: RespondToQuoteInput
    ) -> QuotePayload:
        service = services_of(info).quotes(principal_of(info))
        quote = await service.respond(str(input.id), input.response, input.comment)
        return QuotePayload(quote=Quote.from_model(quote))

    @strawberry.mutation(description="Revise a rejected or negotiated quote into a new version.")
    async def revise_quote(self, info: strawberry.Info, input: ReviseQuoteInput) -> QuotePayload:
        service = services_of(info).quotes(principal_of(info))
        quote = await service.revise(
            ReviseQuoteCommand(
                quote_id=str(input.id),
                valid_until=input.valid_until,
                lines=_lines(input.lines) if input.lines is not None else None,
            )
        )
        return QuotePayload(quote=Quote.from_model(quote))

    @strawberry.mutation(description="Change this tenant's quoting settings (admin).")
    async def update_quoting_settings(
        self, info: strawberry.Info, input: QuotingSettingsInput
    ) -> QuotingSettingsPayload:
        service = services_of(info).catalogue(principal_of(info))
        settings = await service.update_settings(
            SettingsCommand(
                auto_approve_below_bp=input.auto_approve_discount_below_bp,
                company_name=input.company_name,
                company_address=input.company_address,
                company_phone=input.company_phone,
                observation_after_days=input.observation_after_days,
            )
        )
        return QuotingSettingsPayload(settings=QuotingSettings.of(settings))


@strawberry.type(description="Live updates over graphql-transport-ws (or SSE through the gateway).")
class Subscription:
    @strawberry.subscription(
        description="The quote after each change from now on (submitted, approved, rejected, "
        "sent, the customer's answer, ...). NOT_FOUND at once if it is not yours to see, and "
        "when it stops being so."
    )
    async def quote_changed(self, info: strawberry.Info, id: strawberry.ID) -> AsyncIterator[Quote]:
        principal = principal_of(info)
        services = services_of(info)
        quotes = services.quotes(principal)
        quote_id = str(id)
        if await quotes.get(quote_id) is None:
            raise NotFound(f"quote {quote_id} not found", field="id")
        changes = record_changes(
            services.live_feed(),
            record_events(principal.tenant_id, "crm.quoting.quote_", "quote_id", quote_id),
            lambda: quotes.get(quote_id),
            f"quote {quote_id}",
            viewer=principal,
            expires_at=principal.expires_at,
        )
        async for quote in changes:
            yield Quote.from_model(quote)


def schema() -> SubgraphSchema:
    return build_schema(query=Query, mutation=Mutation, subscription=Subscription, types=[Customer])
