"""GraphQL types of the quoting subgraph.

Money is ``{ amountMinor, currency }`` with ``amountMinor`` an Int64 as a decimal string
(GraphQL's Int is 32-bit); quantities are decimal strings; discounts and tax rates are basis
points (1300 = 13 %).
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from crm_common.graphql.email import EmailDelivery
from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_quoting.api.context import principal_of, services_of
from crm_quoting.domain.assessment import Assessment as AssessmentModel
from crm_quoting.domain.assessment import Cadence as CadenceModel
from crm_quoting.domain.assessment import Engagement as EngagementModel
from crm_quoting.domain.assessment import Fit as FitModel
from crm_quoting.domain.assessment import recommended_cadence
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
Fit = strawberry.enum(
    FitModel, description="需求匹配度: how well our offer fits the customer's need."
)
Engagement = strawberry.enum(
    EngagementModel,
    description="合作意向度: PROACTIVE (pushes the project), RESPONSIVE (answers when asked), "
    "SILENT (does not answer).",
)
FollowUpCadence = strawberry.enum(
    CadenceModel,
    name="RecommendedCadence",
    description="The follow-up cadence an assessment recommends for the customer: INTENSIVE "
    "(high fit, proactive), OBSERVATION (low fit: 观察期), else NORMAL.",
)
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
    amount_minor: str = strawberry.field(
        description="Amount in the currency's minor unit (fen, cents), as an integer string."
    )
    currency: str = strawberry.field(description="ISO 4217 code, e.g. CNY.")


@strawberry.type(description="One move of an opportunity: from where to where, who, when.")
class StageChange:
    from_stage: OpportunityStage | None = strawberry.field(  # type: ignore[valid-type]
        description="The stage before the move; null for the opening of the opportunity."
    )
    to_stage: OpportunityStage = strawberry.field(description="The stage after the move.")  # type: ignore[valid-type]
    actor_id: strawberry.ID = strawberry.field(description="User id of who moved it.")
    at: datetime = strawberry.field(description="When it moved (ISO 8601, UTC).")
    note: str | None = strawberry.field(description="Why it moved; null if no note was given.")

    @classmethod
    def of(cls, change: StageChangeModel) -> StageChange:
        return cls(
            from_stage=change.from_stage,
            to_stage=change.to_stage,
            actor_id=strawberry.ID(change.actor_id),
            at=change.at,
            note=change.note,
        )


@strawberry.type(description="One stage assessment of an opportunity: who, when, what.")
class OpportunityAssessment:
    fit: Fit = strawberry.field(description="需求匹配度: HIGH, MEDIUM or LOW.")  # type: ignore[valid-type]
    engagement: Engagement = strawberry.field(  # type: ignore[valid-type]
        description="合作意向度: PROACTIVE, RESPONSIVE or SILENT."
    )
    decision_progress: str | None = strawberry.field(
        description="决策进展 noted with this assessment; null if it noted none."
    )
    recommended_cadence: FollowUpCadence = strawberry.field(  # type: ignore[valid-type]
        description="The customer's follow-up cadence this assessment recommends."
    )
    actor_id: strawberry.ID = strawberry.field(description="User id of who assessed it.")
    at: datetime = strawberry.field(description="When it was assessed (ISO 8601, UTC).")

    @classmethod
    def of(cls, model: AssessmentModel) -> OpportunityAssessment:
        return cls(
            fit=model.fit,
            engagement=model.engagement,
            decision_progress=model.decision_progress,
            recommended_cadence=recommended_cadence(model.fit, model.engagement)[0],
            actor_id=strawberry.ID(model.actor_id),
            at=model.at,
        )


@strawberry.type(description="A solution of the library matched to a need, or browsed.")
class Solution:
    id: strawberry.ID = strawberry.field(description="Stable id of the solution.")
    name: str = strawberry.field(description="Solution name.")
    kind: SolutionKind = strawberry.field(description="What kind of offer it is.")  # type: ignore[valid-type]
    description: str = strawberry.field(description="What the solution does, for sales reps.")

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
    version: int = strawberry.field(
        description="Version number, 1 for the first price, counting up."
    )
    list_price: Money = strawberry.field(description="List price per unit, net of tax.")
    tax_rate_bp: int = strawberry.field(description="Tax rate in basis points (1300 = 13 %).")
    effective_from: datetime = strawberry.field(
        description="When this price took effect (ISO 8601, UTC)."
    )

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
    id: strawberry.ID = strawberry.field(description="Stable id of the item.")
    solution_id: strawberry.ID = strawberry.field(description="Id of the solution it belongs to.")
    code: str = strawberry.field(description="Item code, unique in the tenant.")
    name: str = strawberry.field(description="Item name shown on quotes.")
    unit: str = strawberry.field(description="Unit of sale, e.g. licence, hour, piece.")
    current_price: PriceVersion = strawberry.field(description="The price version in force now.")
    price_history: list[PriceVersion] = strawberry.field(
        description="Every price version, oldest first."
    )

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
    id: strawberry.ID = strawberry.field(description="Stable id of the need.")
    opportunity_id: strawberry.ID = strawberry.field(
        description="Id of the opportunity it belongs to."
    )
    category: NeedCategory = strawberry.field(description="What the need is about.")  # type: ignore[valid-type]
    description: str = strawberry.field(description="The need in the customer's words.")
    created_at: datetime = strawberry.field(description="When it was recorded (ISO 8601, UTC).")
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
    id: strawberry.ID = strawberry.field(description="Stable id of the opportunity.")
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer it is with.")
    name: str = strawberry.field(description="Short name of the deal.")
    stage: OpportunityStage = strawberry.field(description="Where it is in the pipeline.")  # type: ignore[valid-type]
    owner_id: strawberry.ID = strawberry.field(description="The sales rep who owns it")
    team: str | None = strawberry.field(description="Sales team of the owner; null if none.")
    amount: Money = strawberry.field(description="Expected deal value.")
    probability: int = strawberry.field(description="Win probability in percent")
    expected_close_date: date | None = strawberry.field(
        description="When the deal should close (YYYY-MM-DD); null if unknown."
    )
    loss_reason: str | None = strawberry.field(
        description="Why it was lost; null unless the stage is LOST."
    )
    stage_history: list[StageChange] = strawberry.field(
        description="Every stage move, oldest first."
    )
    created_at: datetime = strawberry.field(description="When it was opened (ISO 8601, UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (ISO 8601, UTC).")
    assessments: list[OpportunityAssessment] = strawberry.field(
        description="Every stage assessment (fit, engagement, decision progress), oldest first."
    )
    latest_assessment: OpportunityAssessment | None = strawberry.field(
        description="The newest stage assessment; null if it was never assessed."
    )
    stalls_at: datetime | None = strawberry.field(
        description="When the opportunity counts as stalled (its customer goes into the "
        "observation period) unless decision progress is noted first; null if never assessed, "
        "closed, or already stalled."
    )

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
            assessments=[OpportunityAssessment.of(a) for a in model.assessments],
            latest_assessment=OpportunityAssessment.of(model.assessments[-1])
            if model.assessments
            else None,
            stalls_at=None if model.stage.is_closed else model.progress_due_at,
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
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    amount_minor: str = strawberry.field(
        description="Sum of the opportunity amounts in that currency, integer minor units as a "
        "string."
    )


@strawberry.type(description="One column of the pipeline board.")
class PipelineColumn:
    stage: OpportunityStage = strawberry.field(description="The pipeline stage of this column.")  # type: ignore[valid-type]
    count: int = strawberry.field(
        description="How many of your visible opportunities are at this stage."
    )
    amounts: list[StageAmount] = strawberry.field(description="Sums per currency (never mixed)")


@strawberry.type(description="One line of a quote with its rounded amounts.")
class QuoteLine:
    position: int = strawberry.field(description="Position of the line on the quote, from 1.")
    description: str = strawberry.field(description="What is sold, as printed on the quote.")
    unit: str = strawberry.field(description="Unit of sale, e.g. licence, hour, piece.")
    quantity: str = strawberry.field(description="Decimal, up to three decimals")
    unit_price: Money = strawberry.field(description="Price per unit, net of tax.")
    discount_bp: int = strawberry.field(description="Line discount in basis points (500 = 5 %).")
    tax_rate_bp: int = strawberry.field(description="Tax rate in basis points (1300 = 13 %).")
    catalogue_item_id: strawberry.ID | None = strawberry.field(
        description="Id of the catalogue item; null for a free-text line."
    )
    catalogue_code: str | None = strawberry.field(
        description="Catalogue item code at quoting time; null for a free-text line."
    )
    price_version: int | None = strawberry.field(
        description="The catalogue price version the line was quoted at"
    )
    gross: Money = strawberry.field(description="Quantity x unit price, rounded to the minor unit.")
    discount: Money = strawberry.field(description="Discount amount of the line.")
    net: Money = strawberry.field(description="Gross minus discount, before tax.")
    tax: Money = strawberry.field(description="Tax on the net amount.")
    total: Money = strawberry.field(description="Net plus tax.")

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
    actor_id: strawberry.ID = strawberry.field(
        description="User id of the deciding manager (the submitter for AUTO_APPROVED)."
    )
    comment: str | None = strawberry.field(
        description="The manager's comment; always present on a rejection."
    )
    at: datetime = strawberry.field(description="When the decision was made (ISO 8601, UTC).")


@strawberry.type(description="A version of a quote to a customer.")
class Quote:
    id: strawberry.ID = strawberry.field(description="Stable id of this quote version.")
    number: str = strawberry.field(
        description="Quote number shared by all versions: QUO + yyyyMMdd + sequence."
    )
    version: int = strawberry.field(
        description="Version number, 1 for the first draft, counting up on revisions."
    )
    opportunity_id: strawberry.ID = strawberry.field(
        description="Id of the opportunity quoted for."
    )
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer quoted to.")
    owner_id: strawberry.ID = strawberry.field(
        description="User id of the sales rep who owns the quote."
    )
    status: QuoteStatus = strawberry.field(description="Where the quote is in its lifecycle.")  # type: ignore[valid-type]
    superseded: bool = strawberry.field(description="True once a newer version was made")
    currency: str = strawberry.field(description="ISO 4217 code of every amount of the quote.")
    valid_until: date = strawberry.field(description="Last day the offer holds (YYYY-MM-DD).")
    lines: list[QuoteLine] = strawberry.field(description="The lines, in position order.")
    subtotal: Money = strawberry.field(
        description="Sum of the lines' gross amounts (quantity x unit price)."
    )
    discount_total: Money = strawberry.field(description="Sum of the lines' discounts.")
    net_total: Money = strawberry.field(description="Subtotal minus discounts, before tax.")
    tax_total: Money = strawberry.field(description="Sum of the lines' tax.")
    total: Money = strawberry.field(description="What the customer pays: net total plus tax.")
    max_discount_bp: int = strawberry.field(
        description="The largest line discount in basis points; decides whether approval is needed."
    )
    approval: Approval | None = strawberry.field(
        description="The approval decision; null until decided."
    )
    response_comment: str | None = strawberry.field(
        description="The customer's comment on its answer; null if none."
    )
    previous_version_id: strawberry.ID | None = strawberry.field(
        description="Id of the version this one revises; null for version 1."
    )
    created_at: datetime = strawberry.field(
        description="When this version was created (ISO 8601, UTC)."
    )
    updated_at: datetime = strawberry.field(
        description="When this version last changed (ISO 8601, UTC)."
    )
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

    @strawberry.field(
        description="The e-mails that sent this quote (sendQuoteByEmail), newest first: "
        "recipient, status, attempts and the mail server's answer to a failure."
    )
    async def deliveries(self, info: strawberry.Info) -> list[EmailDelivery]:
        service = services_of(info).quotes(principal_of(info))
        return [EmailDelivery.of(d) for d in await service.deliveries(self._model)]


@strawberry.type(
    description="A downloadable file, inlined as base64 so it flows through the gateway."
)
class QuoteDocument:
    filename: str = strawberry.field(description="Suggested file name, e.g. QUO20261123001-v2.pdf.")
    content_type: str = strawberry.field(description="MIME type of the file, e.g. application/pdf.")
    base64: str = strawberry.field(description="The file's bytes, base64-encoded.")
    size_bytes: int = strawberry.field(description="Size of the decoded file in bytes.")


@strawberry.type(description="Per-tenant quoting settings.")
class QuotingSettings:
    auto_approve_discount_below_bp: int = strawberry.field(
        description="Quotes whose largest discount is under this approve automatically"
    )
    company_name: str = strawberry.field(description="Our company name, printed on quote PDFs.")
    company_address: str = strawberry.field(description="Our address, printed on quote PDFs.")
    company_phone: str = strawberry.field(description="Our phone, printed on quote PDFs.")
    observation_after_days: int = strawberry.field(
        description="Days without noted decision progress after which an assessed opportunity "
        "stalls and its customer goes into the observation period (观察期); default 30."
    )

    @classmethod
    def of(cls, model: QuotingSettingsModel) -> QuotingSettings:
        return cls(
            auto_approve_discount_below_bp=model.auto_approve_below_bp,
            company_name=model.company_name,
            company_address=model.company_address,
            company_phone=model.company_phone,
            observation_after_days=model.observation_after_days,
        )


@strawberry.federation.type(keys=["id"], description="A customer, as quoting sees it.")
class Customer:
    id: strawberry.ID = strawberry.field(
        description="Id of the customer (owned by the customer service)."
    )

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
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer to sell to.")
    name: str = strawberry.field(description="1 to 200 characters")
    amount: MoneyInput | None = strawberry.field(
        default=None, description="Expected deal value; zero if omitted."
    )
    probability: int | None = strawberry.field(
        default=None, description="Percent; the stage default (10) if omitted"
    )
    expected_close_date: date | None = strawberry.field(
        default=None, description="When the deal should close (YYYY-MM-DD)."
    )


@strawberry.type(description="The opportunity just opened.")
class CreateOpportunityPayload:
    opportunity: Opportunity = strawberry.field(
        description="The new opportunity, at INITIAL_CONTACT."
    )


@strawberry.input(description="Move an opportunity to another stage.")
class MoveOpportunityInput:
    id: strawberry.ID = strawberry.field(description="Id of the opportunity to move.")
    stage: OpportunityStage = strawberry.field(description="The target stage.")  # type: ignore[valid-type]
    probability: int | None = strawberry.field(
        default=None, description="Percent; the new stage's default if omitted"
    )
    loss_reason: str | None = strawberry.field(default=None, description="Required for LOST")
    note: str | None = strawberry.field(
        default=None, description="Why it moves; kept in the stage history."
    )


@strawberry.type(description="The opportunity after the move.")
class MoveOpportunityPayload:
    opportunity: Opportunity = strawberry.field(
        description="The opportunity with its new stage and history."
    )


@strawberry.input(description="A stage assessment of an open opportunity.")
class AssessOpportunityInput:
    id: strawberry.ID = strawberry.field(description="Id of the opportunity to assess.")
    fit: Fit = strawberry.field(description="需求匹配度: HIGH, MEDIUM or LOW.")  # type: ignore[valid-type]
    engagement: Engagement = strawberry.field(  # type: ignore[valid-type]
        description="合作意向度: PROACTIVE, RESPONSIVE or SILENT."
    )
    decision_progress: str | None = strawberry.field(
        default=None,
        description="决策进展: where the customer's decision stands (at most 2000 characters). "
        "Noting some restarts the observation clock; omit it if nothing moved.",
    )


@strawberry.type(description="The opportunity with the new assessment.")
class AssessOpportunityPayload:
    opportunity: Opportunity = strawberry.field(
        description="The opportunity, its assessments and when it stalls."
    )


@strawberry.input(description="A new solution for the library.")
class CreateSolutionInput:
    name: str = strawberry.field(description="Solution name (not blank).")
    kind: SolutionKind = strawberry.field(  # type: ignore[valid-type]
        description="What kind of offer it is; needs are matched by it."
    )
    description: str = strawberry.field(
        default="", description="What the solution does, for sales reps; empty if omitted."
    )


@strawberry.type(description="The solution as stored.")
class CreateSolutionPayload:
    solution: Solution = strawberry.field(description="The new solution.")


@strawberry.input(description="A new sellable item of a solution, with its first list price.")
class AddCatalogueItemInput:
    solution_id: strawberry.ID = strawberry.field(
        description="Id of the solution the item belongs to."
    )
    code: str = strawberry.field(description="Item code, unique in the tenant (e.g. SKU-100).")
    name: str = strawberry.field(description="Item name shown on quotes.")
    unit: str = strawberry.field(
        description="Unit of sale shown on quotes, e.g. licence, hour, piece."
    )
    list_price: MoneyInput = strawberry.field(description="List price per unit, net of tax.")
    tax_rate_bp: int = strawberry.field(description="Tax rate in basis points (1300 = 13 %).")


@strawberry.type(description="The catalogue item after the change.")
class CatalogueItemPayload:
    item: CatalogueItem = strawberry.field(description="The item as stored.")


@strawberry.input(description="A new list price; quotes already made keep their price.")
class SetCataloguePriceInput:
    item_id: strawberry.ID = strawberry.field(description="Id of the catalogue item.")
    list_price: MoneyInput = strawberry.field(description="New list price per unit, net of tax.")
    tax_rate_bp: int = strawberry.field(description="New tax rate in basis points (1300 = 13 %).")


@strawberry.input(description="A customer need found for an opportunity.")
class AddNeedInput:
    opportunity_id: strawberry.ID = strawberry.field(
        description="Id of the opportunity the need belongs to."
    )
    category: NeedCategory = strawberry.field(  # type: ignore[valid-type]
        description="What the need is about; it selects the matching solutions."
    )
    description: str = strawberry.field(description="The need in the customer's words (not blank).")


@strawberry.type(description="The need as recorded.")
class AddNeedPayload:
    need: Need = strawberry.field(description="The new need, with its matched solutions.")


@strawberry.input(
    description="A line: a catalogue item (priced from the catalogue) or free text with a price."
)
class QuoteLineInput:
    quantity: str = strawberry.field(description="Decimal string, up to three decimals")
    catalogue_item_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Id of a catalogue item to quote at its current price; null for a free-text "
        "line.",
    )
    description: str | None = strawberry.field(
        default=None,
        description="Text of a free-text line; defaults to the item name for catalogue lines.",
    )
    unit: str | None = strawberry.field(
        default=None,
        description="Unit of a free-text line; defaults to the item unit for catalogue lines.",
    )
    unit_price_minor: str | None = strawberry.field(
        default=None, description="Free-text lines only"
    )
    discount_bp: int = strawberry.field(
        default=0, description="Line discount in basis points (500 = 5 %); 0 if omitted."
    )
    tax_rate_bp: int | None = strawberry.field(default=None, description="Free-text lines only")


@strawberry.input(description="A draft quote for an opportunity.")
class CreateQuoteInput:
    opportunity_id: strawberry.ID = strawberry.field(
        description="Id of the opportunity quoted for."
    )
    currency: str = strawberry.field(
        description="ISO 4217 code of every amount of the quote, e.g. CNY."
    )
    valid_until: date = strawberry.field(
        description="Last day the offer holds (YYYY-MM-DD); not in the past."
    )
    lines: list[QuoteLineInput] = strawberry.field(
        description="The lines, at least one, in the order shown."
    )


@strawberry.input(description="Revise a rejected or negotiated quote into a new version.")
class ReviseQuoteInput:
    id: strawberry.ID = strawberry.field(description="Id of the quote version to revise.")
    valid_until: date | None = strawberry.field(
        default=None,
        description="New last day the offer holds (YYYY-MM-DD); the old one if omitted.",
    )
    lines: list[QuoteLineInput] | None = strawberry.field(
        default=None, description="The old version's lines if omitted"
    )


@strawberry.input(description="Names the quote version to act on.")
class QuoteIdInput:
    id: strawberry.ID = strawberry.field(description="Id of the quote version.")


@strawberry.input(description="E-mail a quote's PDF to the customer.")
class SendQuoteByEmailInput:
    id: strawberry.ID = strawberry.field(description="Id of the approved (or sent) quote version.")
    to: str | None = strawberry.field(
        default=None,
        description="Recipient address; default: the customer's primary contact's e-mail.",
    )


@strawberry.type(description="The quote after sendQuoteByEmail, and the e-mail's delivery.")
class SendQuoteByEmailPayload:
    quote: Quote = strawberry.field(description="The quote, SENT.")
    delivery: EmailDelivery = strawberry.field(
        description="The e-mail: QUEUED at first; read quote.deliveries for its outcome."
    )


@strawberry.input(description="A manager's decision on a quote pending approval.")
class DecideQuoteInput:
    id: strawberry.ID = strawberry.field(description="Id of the pending quote version.")
    comment: str | None = strawberry.field(default=None, description="Required to reject")


@strawberry.input(description="The customer's answer to a sent quote.")
class RespondToQuoteInput:
    id: strawberry.ID = strawberry.field(description="Id of the sent quote version.")
    response: CustomerResponse = strawberry.field(description="Accept, reject or negotiate.")  # type: ignore[valid-type]
    comment: str | None = strawberry.field(
        default=None, description="What the customer said, for the record."
    )


@strawberry.type(description="The quote version after the change.")
class QuotePayload:
    quote: Quote = strawberry.field(description="The quote version as stored.")


@strawberry.input(
    description="Per-tenant quoting settings; omitted (null) fields stay as they are."
)
class QuotingSettingsInput:
    auto_approve_discount_below_bp: int | None = strawberry.field(
        default=None,
        description="Quotes whose largest discount is below this (basis points) approve "
        "automatically.",
    )
    company_name: str | None = strawberry.field(
        default=None, description="Our company name for quote PDFs."
    )
    company_address: str | None = strawberry.field(
        default=None, description="Our address for quote PDFs."
    )
    company_phone: str | None = strawberry.field(
        default=None, description="Our phone for quote PDFs."
    )
    observation_after_days: int | None = strawberry.field(
        default=None,
        description="Days (1-365) without noted decision progress before an assessed "
        "opportunity stalls; applies from each opportunity's next assessment.",
    )


@strawberry.type(description="The tenant's quoting settings after the change.")
class QuotingSettingsPayload:
    settings: QuotingSettings = strawberry.field(description="The settings now in force.")
