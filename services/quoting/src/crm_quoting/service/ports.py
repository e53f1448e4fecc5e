"""What the quoting use cases need from storage and rendering (implemented in ``adapters``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from crm_common.customers.contacts import PrimaryContact
from crm_common.customers.copies import CopiedCustomer
from crm_common.email import Attachment, Delivery
from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_quoting.domain.assessment import DEFAULT_OBSERVATION_AFTER_DAYS, Assessment
from crm_quoting.domain.catalogue import CatalogueItem, Need, PriceVersion, Solution
from crm_quoting.domain.opportunity import Opportunity, OpportunityStage, StageChange
from crm_quoting.domain.permissions import Visibility
from crm_quoting.domain.quote import ApprovalRecord, Quote, QuoteStatus


@dataclass(frozen=True, slots=True)
class BoardCell:
    """Open and closed opportunities of one stage in one currency: how many, how much."""

    stage: OpportunityStage
    currency: str
    count: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class QuotingSettings:
    """Per-tenant settings: the auto-approval threshold and the company printed on quotes."""

    auto_approve_below_bp: int
    company_name: str
    company_address: str
    company_phone: str
    # Days without noted decision progress after which an assessed opportunity has stalled
    # and its customer goes into the observation period (`domain.assessment`).
    observation_after_days: int = DEFAULT_OBSERVATION_AFTER_DAYS


class CustomerDirectory(Protocol):
    """What the use cases ask about customers (the tenant's copy, `crm_common.customers`)."""

    async def get(self, customer_id: str) -> CopiedCustomer | None:
        """The customer as last heard of (current owner and team, deleted / merged)."""


class CustomerRecords(Protocol):
    async def repoint(self, merged_id: str, kept_id: str) -> dict[str, int]:
        """Move the merged customer's opportunities and quotes to the kept one; how many."""


class OpportunityRepository(Protocol):
    tenant_id: str

    async def add(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> None: ...

    async def get(self, opportunity_id: str, visibility: Visibility) -> Opportunity | None: ...

    async def list_page(
        self,
        customer_id: str | None,
        stage: OpportunityStage | None,
        page: PageRequest,
        visibility: Visibility,
    ) -> Page[Opportunity]:
        """Newest first; only one customer's / one stage's when given."""

    async def board(self, visibility: Visibility) -> list[BoardCell]: ...

    async def assess(
        self,
        opportunity: Opportunity,
        assessment: Assessment,
        progress_due_at: datetime | None,
        events: Sequence[CloudEvent],
    ) -> bool:
        """Record an assessment if the opportunity is unchanged since it was read and open."""

    async def move(
        self,
        opportunity: Opportunity,
        expected_stage: OpportunityStage,
        change: StageChange,
        events: Sequence[CloudEvent],
    ) -> bool:
        """Store the moved opportunity if it is still at ``expected_stage`` (else False)."""


class CatalogueRepository(Protocol):
    tenant_id: str

    async def add_solution(self, solution: Solution) -> None: ...

    async def solutions(self) -> list[Solution]: ...

    async def get_solution(self, solution_id: str) -> Solution | None: ...

    async def add_item(self, item: CatalogueItem) -> None:
        """Raise ``Conflict`` when the code is taken in this tenant."""

    async def items(self, solution_id: str | None) -> list[CatalogueItem]: ...

    async def items_by_id(self, ids: Sequence[str]) -> dict[str, CatalogueItem]: ...

    async def add_price(self, item_id: str, expected_version: int, price: PriceVersion) -> bool:
        """Append a price version if the item is still at ``expected_version``."""

    async def add_need(self, need: Need) -> None: ...

    async def needs(self, opportunity_id: str) -> list[Need]: ...

    async def settings(self) -> QuotingSettings: ...

    async def save_settings(self, settings: QuotingSettings) -> None: ...


class QuoteRepository(Protocol):
    tenant_id: str

    async def next_number_sequence(self, day: date) -> int: ...

    async def add(self, quote: Quote, events: Sequence[CloudEvent]) -> None:
        """Raise ``Conflict`` if this number and version exist already."""

    async def get(self, quote_id: str, visibility: Visibility) -> Quote | None: ...

    async def list_page(
        self, opportunity_id: str | None, page: PageRequest, visibility: Visibility
    ) -> Page[Quote]: ...

    async def versions(self, number: str) -> list[Quote]: ...

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
        """Move the quote if it is still ``expected`` and not superseded (else False)."""

    async def supersede(self, quote: Quote) -> bool: ...


@dataclass(frozen=True, slots=True)
class QuoteParty:
    """Who a quote is addressed to, as printed on it: the company (the customer copy) and its
    primary contact (asked of the customer service on the caller's behalf)."""

    company_name: str
    customer_number: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None


class QuoteRenderer(Protocol):
    def render(self, quote: Quote, settings: QuotingSettings, party: QuoteParty) -> bytes: ...


class ContactDirectory(Protocol):
    """The customer service's contacts, read on the caller's behalf (its credentials)."""

    async def primary_email(self, customer_id: str, credentials: str | None) -> str | None:
        """The primary contact's address; None if there is none (or it has no address)."""
        ...

    async def primary_contact(
        self, customer_id: str, credentials: str | None
    ) -> PrimaryContact | None:
        """The primary contact's name, phone and address; None if there is none."""
        ...


class QuoteMailer(Protocol):
    """Queues the e-mails of one tenant's quotes and lists what was sent (crm_common.email)."""

    async def queue(
        self,
        quote_id: str,
        *,
        to: str,
        subject: str,
        text: str,
        attachment: Attachment,
        key: str,
    ) -> Delivery: ...

    async def deliveries(self, quote_id: str) -> list[Delivery]: ...


class QuotingServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def opportunities(self, principal: Any) -> Any: ...

    def catalogue(self, principal: Any) -> Any: ...

    def quotes(self, principal: Any) -> Any: ...

    def live_feed(self) -> Any: ...
