"""Quote use cases over in-memory fakes: events ride in the same write as each change,
approval paths, nothing stored on bad input, and acceptance winning the opportunity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from crm_common.auth import Principal, Role
from crm_common.customers.copies import CopiedCustomer
from crm_common.errors import BadUserInput, Forbidden, NotFound
from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_quoting.domain.money import Money
from crm_quoting.domain.opportunity import Opportunity, OpportunityStage, StageChange
from crm_quoting.domain.permissions import Visibility
from crm_quoting.domain.quote import ApprovalRecord, CustomerResponse, Quote, QuoteStatus
from crm_quoting.service.opportunities import CreateOpportunityCommand, OpportunityService
from crm_quoting.service.ports import BoardCell, QuotingSettings
from crm_quoting.service.quotes import CreateQuoteCommand, LineInput, QuoteService

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class _Opportunities:
    tenant_id = "t1"

    def __init__(self, opportunity: Opportunity) -> None:
        self.docs = {opportunity.id: opportunity}
        self.events: list[CloudEvent] = []

    async def add(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> None:
        self.docs[opportunity.id] = opportunity
        self.events.extend(events)

    async def get(self, opportunity_id: str, visibility: Visibility) -> Opportunity | None:
        found = self.docs.get(opportunity_id)
        return found if found and visibility.admits(found.owner_id, found.team) else None

    async def list_page(self, *_: object) -> Page[Opportunity]:
        raise NotImplementedError("not exercised by these unit tests")

    async def board(self, visibility: Visibility) -> list[BoardCell]:
        raise NotImplementedError("not exercised by these unit tests")

    async def move(
        self,
        opportunity: Opportunity,
        expected_stage: OpportunityStage,
        change: StageChange,
        events: Sequence[CloudEvent],
    ) -> bool:
        if self.docs[opportunity.id].stage != expected_stage:
            return False
        self.docs[opportunity.id] = opportunity
        self.events.extend(events)
        return True


class _Quotes:
    tenant_id = "t1"

    def __init__(self) -> None:
        self.docs: dict[str, Quote] = {}
        self.writes: list[tuple[str, list[str]]] = []  # (status written, event types with it)

    async def next_number_sequence(self, day: date) -> int:
        return 1

    async def add(self, quote: Quote, events: Sequence[CloudEvent]) -> None:
        self.docs[quote.id] = quote
        self.writes.append((quote.status.value, [e.type for e in events]))

    async def get(self, quote_id: str, visibility: Visibility) -> Quote | None:
        found = self.docs.get(quote_id)
        return found if found and visibility.admits(found.owner_id, found.team) else None

    async def list_page(
        self, opportunity_id: str | None, page: PageRequest, visibility: Visibility
    ) -> Page[Quote]:
        raise NotImplementedError("not exercised by these unit tests")

    async def versions(self, number: str) -> list[Quote]:
        return sorted(
            (q for q in self.docs.values() if q.number == number), key=lambda q: q.version
        )

    async def transition(
        self,
        quote: Quote,
        expected: QuoteStatus,
        target: QuoteStatus,
        *,
        action: str,
        actor_id: str,
        events: Sequence[CloudEvent],
        at: datetime,
        approval: ApprovalRecord | None = None,
        response_comment: str | None = None,
    ) -> bool:
        current = self.docs[quote.id]
        if current.status != expected or current.superseded:
            return False
        self.docs[quote.id] = replace(current, status=target, approval=approval or current.approval)
        self.writes.append((target.value, [e.type for e in events]))
        return True

    async def supersede(self, quote: Quote) -> bool:
        self.docs[quote.id] = replace(self.docs[quote.id], superseded=True)
        return True


class _Customers:
    """The tenant's customer copy: only the ids given are known."""

    def __init__(self, *known: str) -> None:
        self.known = set(known)

    async def get(self, customer_id: str) -> CopiedCustomer | None:
        if customer_id not in self.known:
            return None
        return CopiedCustomer(id=customer_id, tenant_id="t1", name="C", owner_id="rita")


class _Catalogue:
    tenant_id = "t1"

    async def items_by_id(self, ids: Sequence[str]) -> dict[str, object]:
        return {}

    async def settings(self) -> QuotingSettings:
        return QuotingSettings(1000, "ACME", "", "")


def _principal(*roles: str, user: str, team: str = "north") -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles), team=team)


def _setup(principal: Principal, opportunities: _Opportunities, quotes: _Quotes) -> QuoteService:
    opportunity_service = OpportunityService(
        principal, opportunities, _Customers("c1"), lambda: None, clock=lambda: NOW
    )
    return QuoteService(
        principal,
        quotes,
        opportunities,
        _Catalogue(),  # type: ignore[arg-type]
        opportunity_service,
        renderer=None,  # type: ignore[arg-type]
        notify_outbox=lambda: None,
        clock=lambda: NOW,
    )


def _opportunity() -> Opportunity:
    return Opportunity(
        id="o1",
        tenant_id="t1",
        customer_id="c1",
        name="Deal",
        stage=OpportunityStage.QUOTE,
        owner_id="rita",
        team="north",
        amount=Money(0, "CNY"),
        probability=60,
        expected_close_date=None,
        created_at=NOW,
        updated_at=NOW,
    )


def _command(discount_bp: int) -> CreateQuoteCommand:
    line = LineInput(
        quantity="2", description="Consulting", unit_price_minor="10000", tax_rate_bp=600
    )
    return CreateQuoteCommand(
        opportunity_id="o1",
        currency="CNY",
        valid_until=date(2026, 12, 31),
        lines=[replace(line, discount_bp=discount_bp)],
    )


async def test_big_discount_needs_a_manager_then_acceptance_wins_the_opportunity() -> None:
    opportunities, quotes = _Opportunities(_opportunity()), _Quotes()
    rep = _setup(_principal(Role.SALES_REP, user="rita"), opportunities, quotes)
    quote = await rep.create(_command(discount_bp=2000))
    assert (await rep.submit(quote.id)).status == QuoteStatus.PENDING_APPROVAL
    with pytest.raises(Forbidden):
        await rep.decide(quote.id, approve=True, comment=None)
    manager = _setup(_principal(Role.SALES_MANAGER, user="mike"), opportunities, quotes)
    assert (await manager.decide(quote.id, True, "ok")).status == QuoteStatus.APPROVED
    await rep.send(quote.id)
    accepted = await rep.respond(quote.id, CustomerResponse.ACCEPT, "deal")
    assert accepted.status == QuoteStatus.ACCEPTED

    # Each status and its events were one write.
    assert quotes.writes == [
        ("DRAFT", ["crm.quoting.quote_created"]),
        ("PENDING_APPROVAL", ["crm.quoting.quote_submitted"]),
        ("APPROVED", ["crm.quoting.quote_approved"]),
        ("SENT", ["crm.quoting.quote_sent"]),
        ("ACCEPTED", ["crm.quoting.quote_accepted"]),
    ]
    assert opportunities.docs["o1"].stage == OpportunityStage.WON
    assert [e.type for e in opportunities.events] == [
        "crm.quoting.opportunity_stage_changed",
        "crm.quoting.opportunity_won",
    ]
    assert opportunities.events[1].data["quote_id"] == quote.id


async def test_small_discount_approves_automatically_in_one_write() -> None:
    opportunities, quotes = _Opportunities(_opportunity()), _Quotes()
    rep = _setup(_principal(Role.SALES_REP, user="rita"), opportunities, quotes)
    quote = await rep.create(_command(discount_bp=999))
    approved = await rep.submit(quote.id)
    assert approved.status == QuoteStatus.APPROVED
    assert approved.approval is not None and approved.approval.decision == "AUTO_APPROVED"
    assert quotes.writes[-1] == (
        "APPROVED",
        ["crm.quoting.quote_submitted", "crm.quoting.quote_approved"],
    )


async def test_bad_input_stores_nothing() -> None:
    opportunities, quotes = _Opportunities(_opportunity()), _Quotes()
    rep = _setup(_principal(Role.SALES_REP, user="rita"), opportunities, quotes)
    bad_quantity = replace(_command(0), lines=[LineInput(quantity="-1", description="x")])
    with pytest.raises(BadUserInput) as exc:
        await rep.create(bad_quantity)
    assert exc.value.field == "input.lines.0.quantity"
    with pytest.raises(BadUserInput) as exc:
        await rep.create(replace(_command(0), valid_until=date(2026, 11, 22)))
    assert exc.value.field == "input.validUntil"
    with pytest.raises(BadUserInput):
        await rep.create(replace(_command(0), lines=[]))
    assert quotes.docs == {} and quotes.writes == []


async def test_a_lost_opportunity_takes_no_acceptance() -> None:
    opportunities, quotes = _Opportunities(_opportunity()), _Quotes()
    rep = _setup(_principal(Role.SALES_REP, user="rita"), opportunities, quotes)
    quote = await rep.create(_command(0))
    await rep.submit(quote.id)
    await rep.send(quote.id)
    opportunities.docs["o1"] = replace(opportunities.docs["o1"], stage=OpportunityStage.LOST)
    with pytest.raises(BadUserInput, match="LOST"):
        await rep.respond(quote.id, CustomerResponse.ACCEPT, None)
    assert quotes.docs[quote.id].status == QuoteStatus.SENT


async def test_an_opportunity_needs_a_customer_known_in_the_tenant() -> None:
    rep = _principal(Role.SALES_REP.value, user="rita")
    opportunities = _Opportunities(_opportunity())
    service = OpportunityService(
        rep, opportunities, _Customers("c1"), lambda: None, clock=lambda: NOW
    )
    before = dict(opportunities.docs)

    with pytest.raises(NotFound) as refused:
        await service.create(CreateOpportunityCommand(customer_id="elsewhere", name="Deal"))
    assert refused.value.field == "input.customerId"
    assert opportunities.docs == before and opportunities.events == []

    opened = await service.create(CreateOpportunityCommand(customer_id="c1", name="Deal"))
    assert opened.customer_id == "c1" and opportunities.docs[opened.id] == opened
    assert [e.type for e in opportunities.events] == ["crm.quoting.opportunity_created"]
