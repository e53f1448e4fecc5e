"""GraphQL types of the quoting subgraph.

Money is ``{ amountMinor, currency }`` with ``amountMinor`` an Int64 as a decimal string
(GraphQL's Int is 32-bit); quantities are decimal strings; discounts and tax rates are basis
points (1300 = 13 %).
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_quoting.api.context import principal_of, services_of
from crm_quoting.domain.catalogue import CatalogueItem as CatalogueItemModel
from crm_quoting.domain.catalogue import Need as NeedModel
from crm_quoting.domain.catalogue import NeedCategory as NeedCategoryModel
from crm_quoting.domain.catalogue import PriceVersion as PriceVersionModel
from crm_quoting.domain.catalogue import Solution as SolutionModel
from crm_quoting.domain.catalogue import SolutionKind as SolutionKindModel
from crm_quoting.domain.money import Money as MoneyModel
from crm_quoting.domain.opportunity import Opportunity as OpportunityModel
from crm_quoting.domain.opportunity import OpportunityStage as OpportunityStageModel
from crm_quoting.domain.opportunity import StageChange as StageChangeModel
from crm_quoting.domain.quote import CustomerResponse as CustomerResponseModel
from crm_quoting.domain.quote import Quote as QuoteModel
from crm_quoting.domain.quote import QuoteLine as QuoteLineModel
from crm_quoting.domain.quote import QuoteStatus as QuoteStatusModel
from crm_quoting.service.ports import QuotingSettings as QuotingSettingsModel

OpportunityStage = strawberry.enum(
    OpportunityStageModel, description="Where an opportunity is in the sales pipeline."
)
QuoteStatus = strawberry.enum(QuoteStatusModel, description="Where a quote is in its lifecycle.")
SolutionKind = strawberry.enum(SolutionKindModel, description="What kind of offer a solution is.")
NeedCategory = strawberry.enum(NeedCategoryModel, description="What a customer need is about.")
CustomerResponse = strawberry.enum(
    CustomerResponseModel, description="The customer's answer to a sent quote."
)


@strawberry.federation.type(shareable=True, description="An exact amount of money.")
class Money:
    amount_minor: str = strawberry.field(
        description="Integer amount in the currency's minor unit (fen, cents), as a string"
    )
    currency: str = strawberry.field(description="ISO 4217 code")

    @classmethod
    def of(cls, money: MoneyModel) -> Money:
        return cls(amount_minor=str(money.amount_minor), currency=money.currency)


@strawberry.input(description="An exact amount: integer minor units as a string, ISO currency.")
class MoneyInput:
    amount_minor: str
    currency: str


@strawberry.type(description="One move of an opportunity: from where to where, who, when.")
class StageChange:
    from_stage: OpportunityStage | None  # type: ignore[valid-type]
    to_stage: OpportunityStage  # type: ignore[valid-type]
    actor_id: strawberry.ID
    at: datetime
    note: str | None

    @classmethod
    def of(cls, change: StageChangeModel) -> StageChange:
        return cls(
            from_stage=change.from_stage,
            to_stage=change.to_stage,
            actor_id=strawberry.ID(change.actor_id),
            at=change.at,
            note=change.note,
        )


@strawberry.type(description="A solution of the library matched to a need, or browsed.")
class Solution:
    id: strawberry.ID
    name: str
    kind: SolutionKind  # type: ignore[valid-type]
    description: str

    @classmethod
    def of(cls, model: SolutionModel) -> Solution:
        return cls(
            id=strawberry.ID(model.id),
            name=model.name,
            kind=model.kind,
            description=model.description,
        )

    @strawberry.field(description="The catalogue items of this solution, by code.")
    async def items(self, info: strawberry.Info) -> list[CatalogueItem]:
        service = services_of(info).catalogue(principal_of(info))
        return [CatalogueItem.of(i) for i in await service.items(str(self.id))]


@strawberry.type(description="One version of a catalogue item's list price.")
class PriceVersion:
    version: int
    list_price: Money
    tax_rate_bp: int
    effective_from: datetime

    @classmethod
    def of(cls, model: PriceVersionModel) -> PriceVersion:
        return cls(
            version=model.version,
            list_price=Money.of(model.list_price),
            tax_rate_bp=model.tax_rate_bp,
            effective_from=model.effective_from,
        )


@strawberry.type(description="A sellable item of the solution library.")
class CatalogueItem:
    id: strawberry.ID
    solution_id: strawberry.ID
    code: str
    name: str
    unit: str
    current_price: PriceVersion
    price_history: list[PriceVersion]

    @classmethod
    def of(cls, model: CatalogueItemModel) -> CatalogueItem:
        return cls(
            id=strawberry.ID(model.id),
            solution_id=strawberry.ID(model.solution_id),
            code=model.code,
            name=model.name,
            unit=model.unit,
            current_price=PriceVersion.of(model.current_price),
            price_history=[PriceVersion.of(p) for p in model.prices],
        )


@strawberry.type(description="A customer need, classified, with the solutions that fit it.")
class Need:
    id: strawberry.ID
    opportunity_id: strawberry.ID
    category: NeedCategory  # type: ignore[valid-type]
    description: str
    created_at: datetime
    _model: strawberry.Private[NeedModel]

    @classmethod
    def of(cls, model: NeedModel) -> Need:
        return cls(
            id=strawberry.ID(model.id),
            opportunity_id=strawberry.ID(model.opportunity_id),
            category=model.category,
            description=model.description,
            created_at=model.created_at,
            _model=model,
        )

    @strawberry.field(description="Solutions of the kind that serves this need, best match first.")
    async def matched_solutions(self, info: strawberry.Info) -> list[Solution]:
        service = services_of(info).catalogue(principal_of(info))
        return [Solution.of(s) for s in await service.matching_solutions(self._model)]


@strawberry.type(description="A chance to sell to a customer, tracked through the pipeline.")
class Opportunity:
    id: strawberry.ID
    customer_id: strawberry.ID
    name: str
    stage: OpportunityStage  # type: ignore[valid-type]
    owner_id: strawberry.ID = strawberry.field(description="The sales rep who owns it")
    team: str | None
    amount: Money
    probability: int = strawberry.field(description="Win probability in percent")
    expected_close_date: date | None
    loss_reason: str | None
    stage_history: list[StageChange]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, model: OpportunityModel) -> Opportunity:
        return cls(
            id=strawberry.ID(model.id),
            customer_id=strawberry.ID(model.customer_id),
            name=model.name,
            stage=model.stage,
            owner_id=strawberry.ID(model.owner_id),
            team=model.team,
            amount=Money.of(model.amount),
            probability=model.probability,
            expected_close_date=model.expected_close_date,
            loss_reason=model.loss_reason,
            stage_history=[StageChange.of(c) for c in model.history],
            created_at=model.created_at,
            updated_at=model.updated_at,
        )

    @strawberry.field(description="The customer's needs found for this opportunity.")
    async def needs(self, info: strawberry.Info) -> list[Need]:
        service = services_of(info).catalogue(principal_of(info))
        return [Need.of(n) for n in await service.needs(str(self.id))]

    @strawberry.field(description="Quotes of this opportunity you may see, newest first.")
    async def quotes(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Quote]:
        service = services_of(info).quotes(principal_of(info))
        page = await service.list_page(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, Quote.from_model)


@strawberry.type(description="Amounts of one stage in one currency.")
class StageAmount:
    currency: str
    amount_minor: str


@strawberry.type(description="One column of the pipeline board.")
class PipelineColumn:
    stage: OpportunityStage  # type: ignore[valid-type]
    count: int
    amounts: list[StageAmount] = strawberry.field(description="Sums per currency (never mixed)")


@strawberry.type(description="One line of a quote with its rounded amounts.")
class QuoteLine:
    position: int
    description: str
    unit: str
    quantity: str = strawberry.field(description="Decimal, up to three decimals")
    unit_price: Money
    discount_bp: int
    tax_rate_bp: int
    catalogue_item_id: strawberry.ID | None
    catalogue_code: str | None
    price_version: int | None = strawberry.field(
        description="The catalogue price version the line was quoted at"
    )
    gross: Money
    discount: Money
    net: Money
    tax: Money
    total: Money

    @classmethod
    def of(cls, line: QuoteLineModel, currency: str) -> QuoteLine:
        amounts = line.amounts

        def money(minor: int) -> Money:
            return Money(amount_minor=str(minor), currency=currency)

        return cls(
            position=line.position,
            description=line.description,
            unit=line.unit,
            quantity=str(line.quantity),
            unit_price=money(line.unit_price_minor),
            discount_bp=line.discount_bp,
            tax_rate_bp=line.tax_rate_bp,
            catalogue_item_id=strawberry.ID(line.catalogue_item_id)
            if line.catalogue_item_id
            else None,
            catalogue_code=line.catalogue_code,
            price_version=line.price_version,
            gross=money(amounts.gross_minor),
            discount=money(amounts.discount_minor),
            net=money(amounts.net_minor),
            tax=money(amounts.tax_minor),
            total=money(amounts.total_minor),
        )


@strawberry.type(description="A manager's (or the automatic) decision on a quote.")
class Approval:
    decision: str = strawberry.field(description="APPROVED, REJECTED or AUTO_APPROVED")
    actor_id: strawberry.ID
    comment: str | None
    at: datetime


@strawberry.type(description="A version of a quote to a customer.")
class Quote:
    id: strawberry.ID
    number: str
    version: int
    opportunity_id: strawberry.ID
    customer_id: strawberry.ID
    owner_id: strawberry.ID
    status: QuoteStatus  # type: ignore[valid-type]
    superseded: bool = strawberry.field(description="True once a newer version was made")
    currency: str
    valid_until: date
    lines: list[QuoteLine]
    subtotal: Money
    discount_total: Money
    net_total: Money
    tax_total: Money
    total: Money
    max_discount_bp: int
    approval: Approval | None
    response_comment: str | None
    previous_version_id: strawberry.ID | None
    created_at: datetime
    updated_at: datetime
    _model: strawberry.Private[QuoteModel]

    @classmethod
    def from_model(cls, model: QuoteModel) -> Quote:
        totals = model.totals

        def money(minor: int) -> Money:
            return Money(amount_minor=str(minor), currency=model.currency)

        approval = model.approval
        return cls(
            id=strawberry.ID(model.id),
            number=model.number,
            version=model.version,
            opportunity_id=strawberry.ID(model.opportunity_id),
            customer_id=strawberry.ID(model.customer_id),
            owner_id=strawberry.ID(model.owner_id),
            status=model.status,
            superseded=model.superseded,
            currency=model.currency,
            valid_until=model.valid_until,
            lines=[QuoteLine.of(line, model.currency) for line in model.lines],
            subtotal=money(totals.gross_minor),
            discount_total=money(totals.discount_minor),
            net_total=money(totals.net_minor),
            tax_total=money(totals.tax_minor),
            total=money(totals.total_minor),
            max_discount_bp=model.max_discount_bp,
            approval=Approval(
                decision=approval.decision,
                actor_id=strawberry.ID(approval.actor_id),
                comment=approval.comment,
                at=approval.at,
            )
            if approval
            else None,
            response_comment=model.response_comment,
            previous_version_id=strawberry.ID(model.previous_version_id)
            if model.previous_version_id
            else None,
            created_at=model.created_at,
            updated_at=model.updated_at,
            _model=model,
        )

    @strawberry.field(description="Every version of this quote you may see, oldest first.")
    async def versions(self, info: strawberry.Info) -> list[Quote]:
        service = services_of(info).quotes(principal_of(info))
        return [Quote.from_model(q) for q in await service.versions(self._model)]


@strawberry.type(
    description="A downloadable file, inlined as base64 so it flows through the gateway."
)
class QuoteDocument:
    filename: str
    content_type: str
    base64: str
    size_bytes: int


@strawberry.type(description="Per-tenant quoting settings.")
class QuotingSettings:
    auto_approve_discount_below_bp: int = strawberry.field(
        description="Quotes whose largest discount is under this approve automatically"
    )
    company_name: str
    company_address: str
    company_phone: str

    @classmethod
    def of(cls, model: QuotingSettingsModel) -> QuotingSettings:
        return cls(
            auto_approve_discount_below_bp=model.auto_approve_below_bp,
            company_name=model.company_name,
            company_address=model.company_address,
            company_phone=model.company_phone,
        )


@strawberry.federation.type(keys=["id"], description="A customer, as quoting sees it.")
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        # Nothing to load: the fields below read by customer id and check access themselves.
        return cls(id=id)

    @strawberry.field(description="Opportunities with this customer you may see, newest first.")
    async def opportunities(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        stage: OpportunityStage | None = None,  # type: ignore[valid-type]
    ) -> Connection[Opportunity]:
        service = services_of(info).opportunities(principal_of(info))
        page = await service.list_page(str(self.id), stage, PageRequest(first=first, after=after))
        return to_connection(page, Opportunity.from_model)


# ---- inputs and payloads ------------------------------------------------------------------


@strawberry.input(description="An opportunity to open; it starts at INITIAL_CONTACT.")
class CreateOpportunityInput:
    customer_id: strawberry.ID
    name: str = strawberry.field(description="1 to 200 characters")
    amount: MoneyInput | None = None
    probability: int | None = strawberry.field(
        default=None, description="Percent; the stage default (10) if omitted"
    )
    expected_close_date: date | None = None


@strawberry.type
class CreateOpportunityPayload:
    opportunity: Opportunity


@strawberry.input(description="Move an opportunity to another stage.")
class MoveOpportunityInput:
    id: strawberry.ID
    stage: OpportunityStage  # type: ignore[valid-type]
    probability: int | None = strawberry.field(
        default=None, description="Percent; the new stage's default if omitted"
    )
    loss_reason: str | None = strawberry.field(default=None, description="Required for LOST")
    note: str | None = None


@strawberry.type
class MoveOpportunityPayload:
    opportunity: Opportunity


@strawberry.input
class CreateSolutionInput:
    name: str
    kind: SolutionKind  # type: ignore[valid-type]
    description: str = ""


@strawberry.type
class CreateSolutionPayload:
    solution: Solution


@strawberry.input
class AddCatalogueItemInput:
    solution_id: strawberry.ID
    code: str
    name: str
    unit: str
    list_price: MoneyInput
    tax_rate_bp: int


@strawberry.type
class CatalogueItemPayload:
    item: CatalogueItem


@strawberry.input(description="A new list price; quotes already made keep their price.")
class SetCataloguePriceInput:
    item_id: strawberry.ID
    list_price: MoneyInput
    tax_rate_bp: int


@strawberry.input
class AddNeedInput:
    opportunity_id: strawberry.ID
    category: NeedCategory  # type: ignore[valid-type]
    description: str


@strawberry.type
class AddNeedPayload:
    need: Need


@strawberry.input(
    description="A line: a catalogue item (priced from the catalogue) or free text with a price."
)
class QuoteLineInput:
    quantity: str = strawberry.field(description="Decimal string, up to three decimals")
    catalogue_item_id: strawberry.ID | None = None
    description: str | None = None
    unit: str | None = None
    unit_price_minor: str | None = strawberry.field(
        default=None, description="Free-text lines only"
    )
    discount_bp: int = 0
    tax_rate_bp: int | None = strawberry.field(default=None, description="Free-text lines only")


@strawberry.input
class CreateQuoteInput:
    opportunity_id: strawberry.ID
    currency: str
    valid_until: date
    lines: list[QuoteLineInput]


@strawberry.input(description="Revise a rejected or negotiated quote into a new version.")
class ReviseQuoteInput:
    id: strawberry.ID
    valid_until: date | None = None
    lines: list[QuoteLineInput] | None = strawberry.field(
        default=None, description="The old version's lines if omitted"
    )


@strawberry.input
class QuoteIdInput:
    id: strawberry.ID


@strawberry.input
class DecideQuoteInput:
    id: strawberry.ID
    comment: str | None = strawberry.field(default=None, description="Required to reject")


@strawberry.input
class RespondToQuoteInput:
    id: strawberry.ID
    response: CustomerResponse  # type: ignore[valid-type]
    comment: str | None = None


@strawberry.type
class QuotePayload:
    quote: Quote


@strawberry.input
class QuotingSettingsInput:
    auto_approve_discount_below_bp: int | None = None
    company_name: str | None = None
    company_address: str | None = None
    company_phone: str | None = None


@strawberry.type
class QuotingSettingsPayload:
    settings: QuotingSettings
