"""Quote use cases: draft, submit, approve/reject, send, customer response, revise, document.

Every status change is one conditional update of the quote document that also carries its
events (outbox), so a change and its announcement land together or not at all, and two
concurrent moves of the same quote cannot both succeed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.email import Attachment, Delivery, valid_address
from crm_common.errors import BadUserInput, Conflict, CrmError, NotFound
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.quoting import (
    QuoteAccepted,
    QuoteApproved,
    QuoteCreated,
    QuoteDeclined,
    QuoteNegotiationRequested,
    QuoteRejected,
    QuoteSent,
    QuoteSubmitted,
)
from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_quoting.domain.catalogue import clean_text
from crm_quoting.domain.money import (
    Quantity,
    parse_amount_minor,
    parse_basis_points,
    parse_currency,
)
from crm_quoting.domain.opportunity import Opportunity
from crm_quoting.domain.permissions import Visibility, can_change, can_create, visibility
from crm_quoting.domain.quote import (
    MAX_LINES,
    RESPONSE_ACTION,
    ApprovalRecord,
    CustomerResponse,
    Quote,
    QuoteAction,
    QuoteLine,
    QuoteStatus,
    approves_automatically,
    check_action,
    check_approver,
    check_validity,
    clean_comment,
    quote_number,
)
from crm_quoting.service.opportunities import OpportunityService, quoting_event
from crm_quoting.service.ports import (
    CatalogueRepository,
    ContactDirectory,
    CustomerDirectory,
    OpportunityRepository,
    QuoteMailer,
    QuoteParty,
    QuoteRenderer,
    QuoteRepository,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LineInput:
    quantity: str
    catalogue_item_id: str | None = None
    description: str | None = None
    unit: str | None = None
    unit_price_minor: str | None = None
    discount_bp: int = 0
    tax_rate_bp: int | None = None


@dataclass(frozen=True, slots=True)
class CreateQuoteCommand:
    opportunity_id: str
    currency: str
    valid_until: date
    lines: Sequence[LineInput]


@dataclass(frozen=True, slots=True)
class ReviseQuoteCommand:
    quote_id: str
    valid_until: date | None = None
    lines: Sequence[LineInput] | None = None


@dataclass(frozen=True, slots=True)
class QuoteDocument:
    filename: str
    content_type: str
    content: bytes


class QuoteService:
    def __init__(
        self,
        principal: Principal,
        quotes: QuoteRepository,
        opportunities: OpportunityRepository,
        catalogue: CatalogueRepository,
        opportunity_service: OpportunityService,
        renderer: QuoteRenderer,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
        *,
        mailer: QuoteMailer | None = None,
        contacts: ContactDirectory | None = None,
        customers: CustomerDirectory | None = None,
    ) -> None:
        self._mailer = mailer
        self._contacts = contacts
        self._customers = customers
        self._principal = principal
        self._quotes = quotes
        self._opportunities = opportunities
        self._catalogue = catalogue
        self._opportunity_service = opportunity_service
        self._renderer = renderer
        self._notify_outbox = notify_outbox
        self._clock = clock

    # ---- drafting -------------------------------------------------------------------------

    async def create(self, command: CreateQuoteCommand) -> Quote:
        principal = self._principal
        can_create(principal)
        opportunity = await self._opportunities.get(command.opportunity_id, visibility(principal))
        if opportunity is None:
            raise NotFound("no such opportunity", field="input.opportunityId")
        can_change(principal)
        if opportunity.stage.is_closed:
            raise BadUserInput(
                f"the opportunity is {opportunity.stage.value}; it takes no new quotes",
                field="input.opportunityId",
            )
        currency = parse_currency(command.currency, "input.currency")
        now = self._clock()
        valid_until = check_validity(command.valid_until, now.date())
        lines = await self._lines(command.lines, currency)
        sequence = await self._quotes.next_number_sequence(now.date())
        quote = Quote(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            number=quote_number(now.date(), sequence),
            version=1,
            opportunity_id=opportunity.id,
            customer_id=opportunity.customer_id,
            owner_id=principal.user_id,
            team=opportunity.team,
            currency=currency,
            valid_until=valid_until,
            status=QuoteStatus.DRAFT,
            lines=lines,
            created_at=now,
            updated_at=now,
            history=(("created", principal.user_id, now),),
        )
        await self._quotes.add(quote, [self._event(quote, self._created_payload(quote, now))])
        self._notify_outbox()
        return quote

    async def revise(self, command: ReviseQuoteCommand) -> Quote:
        """A new version (DRAFT) of a rejected or negotiated quote; the old one stays readable."""
        current = await self._changeable(command.quote_id)
        check_action(current, QuoteAction.REVISE)
        now = self._clock()
        valid_until = check_validity(command.valid_until or current.valid_until, now.date())
        lines = (
            current.lines
            if command.lines is None
            else await self._lines(command.lines, current.currency)
        )
        revised = replace(
            current,
            id=str(uuid.uuid4()),
            version=current.version + 1,
            owner_id=self._principal.user_id,
            valid_until=valid_until,
            status=QuoteStatus.DRAFT,
            lines=lines,
            created_at=now,
            updated_at=now,
            superseded=False,
            approval=None,
            response_comment=None,
            previous_version_id=current.id,
            history=(("revised", self._principal.user_id, now),),
        )
        # The unique (number, version) index lets only one concurrent revision in.
        await self._quotes.add(revised, [self._event(revised, self._created_payload(revised, now))])
        await self._quotes.supersede(current)
        self._notify_outbox()
        return revised

    async def _lines(self, inputs: Sequence[LineInput], currency: str) -> tuple[QuoteLine, ...]:
        if not inputs:
            raise BadUserInput("a quote needs at least one line", field="input.lines")
        if len(inputs) > MAX_LINES:
            raise BadUserInput(f"a quote has at most {MAX_LINES} lines", field="input.lines")
        item_ids = [i.catalogue_item_id for i in inputs if i.catalogue_item_id]
        items = await self._catalogue.items_by_id(item_ids)
        lines = []
        for index, line in enumerate(inputs):
            at = f"input.lines.{index}"
            quantity = Quantity.parse(line.quantity, f"{at}.quantity")
            discount = parse_basis_points(line.discount_bp, f"{at}.discountBp", what="discountBp")
            if line.catalogue_item_id:
                item = items.get(line.catalogue_item_id)
                if item is None:
                    raise NotFound("no such catalogue item", field=f"{at}.catalogueItemId")
                price = item.current_price
                if price.list_price.currency != currency:
                    raise BadUserInput(
                        f"{item.code} is priced in {price.list_price.currency}, "
                        f"the quote in {currency}",
                        field=f"{at}.catalogueItemId",
                    )
                lines.append(
                    QuoteLine(
                        position=index + 1,
                        description=clean_text(
                            line.description or item.name, f"{at}.description", limit=500
                        ),
                        unit=item.unit,
                        quantity=quantity,
                        unit_price_minor=price.list_price.amount_minor,
                        discount_bp=discount,
                        tax_rate_bp=price.tax_rate_bp,
                        catalogue_item_id=item.id,
                        catalogue_code=item.code,
                        price_version=price.version,
                    )
                )
                continue
            if line.unit_price_minor is None or line.tax_rate_bp is None:
                raise BadUserInput(
                    "a free-text line needs unitPriceMinor and taxRateBp",
                    field=f"{at}.unitPriceMinor",
                )
            lines.append(
                QuoteLine(
                    position=index + 1,
                    description=clean_text(line.description or "", f"{at}.description", limit=500),
                    unit=clean_text(line.unit or "item", f"{at}.unit", limit=20),
                    quantity=quantity,
                    unit_price_minor=parse_amount_minor(
                        line.unit_price_minor, f"{at}.unitPriceMinor"
                    ),
                    discount_bp=discount,
                    tax_rate_bp=parse_basis_points(
                        line.tax_rate_bp, f"{at}.taxRateBp", what="taxRateBp"
                    ),
                )
            )
        return tuple(lines)

    # ---- the status machine ---------------------------------------------------------------

    async def submit(self, quote_id: str) -> Quote:
        quote = await self._changeable(quote_id)
        check_action(quote, QuoteAction.SUBMIT)
        settings = await self._catalogue.settings()
        totals = quote.totals
        automatic = approves_automatically(quote.max_discount_bp, settings.auto_approve_below_bp)
        submitted = QuoteSubmitted(
            **self._common(quote),
            total_minor=totals.total_minor,
            currency=quote.currency,
            max_discount_bp=quote.max_discount_bp,
            approved_automatically=automatic,
        )
        if automatic:
            approval = ApprovalRecord("AUTO_APPROVED", self._principal.user_id, None, self._clock())
            approved = QuoteApproved(**self._common(quote), automatic=True)
            return await self._move(
                quote,
                QuoteStatus.APPROVED,
                "submitted and approved automatically",
                [submitted, approved],
                approval=approval,
            )
        return await self._move(quote, QuoteStatus.PENDING_APPROVAL, "submitted", [submitted])

    async def decide(self, quote_id: str, approve: bool, comment: str | None) -> Quote:
        quote = await self._visible(quote_id)
        check_approver(self._principal, quote)
        action = QuoteAction.APPROVE if approve else QuoteAction.REJECT
        target = check_action(quote, action)
        assert target is not None
        text = clean_comment(comment, "input.comment", required=not approve)
        approval = ApprovalRecord(target.value, self._principal.user_id, text, self._clock())
        payload: EventData
        if approve:
            payload = QuoteApproved(**self._common(quote), automatic=False, comment=text)
        else:
            assert text is not None
            payload = QuoteRejected(**self._common(quote), comment=text)
        return await self._move(quote, target, action.value, [payload], approval=approval)

    async def send(self, quote_id: str) -> Quote:
        quote = await self._changeable(quote_id)
        check_action(quote, QuoteAction.SEND)
        check_validity(quote.valid_until, self._clock().date())
        payload = QuoteSent(
            **self._common(quote),
            total_minor=quote.totals.total_minor,
            currency=quote.currency,
            valid_until=quote.valid_until,
        )
        return await self._move(quote, QuoteStatus.SENT, "sent", [payload])

    async def send_by_email(
        self, quote_id: str, to: str | None, credentials: str | None
    ) -> tuple[Quote, Delivery]:
        """E-mail the quote's PDF to ``to`` (default: the customer's primary contact) and, if
        it is APPROVED, mark it SENT. A SENT quote may be e-mailed again (another contact, a
        lost mail); the delivery is recorded on the quote either way.

        Order: the status move first (a conflict sends nothing), then the e-mail is queued
        under a key of (quote, address): a retried call queues nothing new. A crash between
        the two leaves a SENT quote without a delivery, which `sendQuoteByEmail` repairs.
        """
        assert self._mailer is not None
        assert self._contacts is not None
        quote = await self._changeable(quote_id)
        if quote.status not in (QuoteStatus.APPROVED, QuoteStatus.SENT):
            raise BadUserInput(
                f"the quote is {quote.status.value}; only an approved or sent quote is e-mailed",
                field="input.id",
            )
        if quote.superseded:
            raise BadUserInput("a newer version of this quote exists", field="input.id")
        address = (to or "").strip()
        if not address:
            found = await self._contacts.primary_email(quote.customer_id, credentials)
            if not found:
                raise BadUserInput(
                    "the customer has no primary contact with an e-mail address; pass `to`",
                    field="input.to",
                )
            address = found
        if not valid_address(address):
            raise BadUserInput(f"{address!r} is not an e-mail address", field="input.to")
        document = await self.document(quote.id, credentials)
        if quote.status is QuoteStatus.APPROVED:
            quote = await self.send(quote.id)
        totals = quote.totals
        delivery = await self._mailer.queue(
            quote.id,
            to=address,
            subject=f"Quote {quote.number} (version {quote.version})",
            text=(
                f"Please find attached our quote {quote.number}, version {quote.version}.\n"
                f"Total: {totals.total_minor / 100:.2f} {quote.currency}, "
                f"valid until {quote.valid_until.isoformat()}.\n"
            ),
            attachment=Attachment(document.filename, document.content_type, document.content),
            key=f"quote:{quote.id}:{address.casefold()}",
        )
        return quote, delivery

    async def deliveries(self, quote: Quote) -> list[Delivery]:
        """The e-mails sent about a quote the caller sees, newest first."""
        if self._mailer is None or await self.get(quote.id) is None:
            return []
        return await self._mailer.deliveries(quote.id)

    async def respond(
        self, quote_id: str, response: CustomerResponse, comment: str | None
    ) -> Quote:
        """Record the customer's answer; accepting also wins the opportunity."""
        quote = await self._changeable(quote_id)
        action = RESPONSE_ACTION[response]
        target = check_action(quote, action)
        assert target is not None
        now = self._clock()
        if quote.valid_until < now.date():
            raise BadUserInput(
                f"the quote was valid until {quote.valid_until.isoformat()}; revise it",
                field="input.id",
            )
        text = clean_comment(comment, "input.comment", required=False)
        payload: EventData
        opportunity: Opportunity | None = None
        if action == QuoteAction.ACCEPT:
            # Whoever may act on the quote wins its opportunity, whoever owns that.
            opportunity = await self._opportunities.get(
                quote.opportunity_id, Visibility(everything=True)
            )
            if opportunity is None or opportunity.stage.is_closed:
                state = opportunity.stage.value if opportunity else "gone"
                raise BadUserInput(
                    f"the opportunity is {state}; the quote cannot be accepted", field="input.id"
                )
            payload = QuoteAccepted(
                quote_id=quote.id,
                quote_number=quote.number,
                version=quote.version,
                opportunity_id=quote.opportunity_id,
                customer_id=quote.customer_id,
                owner_id=quote.owner_id,
                total_minor=quote.totals.total_minor,
                currency=quote.currency,
                accepted_at=now,
            )
        elif action == QuoteAction.NEGOTIATE:
            payload = QuoteNegotiationRequested(**self._common(quote), comment=text)
        else:
            payload = QuoteDeclined(**self._common(quote), comment=text)
        moved = await self._move(quote, target, action.value, [payload], response_comment=text)
        if opportunity is not None:
            await self._opportunity_service.win_by_quote(opportunity, quote.id)
        return moved

    async def _move(
        self,
        quote: Quote,
        target: QuoteStatus,
        action: str,
        payloads: Sequence[EventData],
        *,
        approval: ApprovalRecord | None = None,
        response_comment: str | None = None,
    ) -> Quote:
        events = [self._event(quote, p) for p in payloads]
        now = self._clock()
        stored = await self._quotes.transition(
            quote,
            quote.status,
            target,
            action=action,
            actor_id=self._principal.user_id,
            events=events,
            at=now,
            approval=approval,
            response_comment=response_comment,
        )
        if not stored:
            raise Conflict(
                "the quote was changed meanwhile; reload and try again", field="input.id"
            )
        self._notify_outbox()
        return replace(
            quote,
            status=target,
            updated_at=now,
            approval=approval or quote.approval,
            response_comment=response_comment
            if response_comment is not None
            else quote.response_comment,
            history=(*quote.history, (action, self._principal.user_id, now)),
        )

    # ---- reading ---------------------------------------------------------------------------

    async def get(self, quote_id: str) -> Quote | None:
        return await self._quotes.get(quote_id, visibility(self._principal))

    async def list_page(self, opportunity_id: str | None, page: PageRequest) -> Page[Quote]:
        return await self._quotes.list_page(opportunity_id, page, visibility(self._principal))

    async def versions(self, quote: Quote) -> list[Quote]:
        """All versions of a quote the caller sees, oldest first (they share its customer)."""
        if await self.get(quote.id) is None:
            return []
        return await self._quotes.versions(quote.number)

    async def document(self, quote_id: str, credentials: str | None = None) -> QuoteDocument:
        """The quote as a PDF addressed to the customer: company name (the customer copy) and
        primary contact (the customer service, with the caller's ``credentials``: what the
        caller may not see is left out). Rendering takes a CPU-bound moment (the embedded CJK
        font is cut per document), so it runs off the event loop."""
        quote = await self._visible(quote_id, field="id")
        settings = await self._catalogue.settings()
        party = await self._party(quote, credentials)
        content = await asyncio.to_thread(self._renderer.render, quote, settings, party)
        return QuoteDocument(
            filename=f"{quote.number}-v{quote.version}.pdf",
            content_type="application/pdf",
            content=content,
        )

    async def _party(self, quote: Quote, credentials: str | None) -> QuoteParty:
        customer = await self._customers.get(quote.customer_id) if self._customers else None
        party = QuoteParty(
            company_name=customer.name if customer and customer.name else quote.customer_id,
            customer_number=customer.number if customer else None,
        )
        if self._contacts is None:
            return party
        try:
            contact = await self._contacts.primary_contact(quote.customer_id, credentials)
        except CrmError as exc:  # the customer service is away: the document goes without
            log.warning("no contact for the quote document", extra={"error": exc.message})
            return party
        if contact is None:
            return party
        return replace(
            party,
            contact_name=contact.name,
            contact_phone=contact.phone,
            contact_email=contact.email,
        )

    async def _visible(self, quote_id: str, field: str = "input.id") -> Quote:
        found = await self.get(quote_id)
        if found is None:
            raise NotFound("no such quote", field=field)
        return found

    async def _changeable(self, quote_id: str) -> Quote:
        quote = await self._visible(quote_id)
        can_change(self._principal)
        return quote

    # ---- events ----------------------------------------------------------------------------

    def _common(self, quote: Quote) -> dict[str, Any]:
        return {
            "quote_id": quote.id,
            "quote_number": quote.number,
            "version": quote.version,
            "opportunity_id": quote.opportunity_id,
            "customer_id": quote.customer_id,
            "owner_id": quote.owner_id,
            "actor_id": self._principal.user_id,
            "at": self._clock(),
        }

    def _created_payload(self, quote: Quote, now: datetime) -> QuoteCreated:
        return QuoteCreated(
            **{**self._common(quote), "at": now},
            total_minor=quote.totals.total_minor,
            currency=quote.currency,
            max_discount_bp=quote.max_discount_bp,
            valid_until=quote.valid_until,
            previous_version_id=quote.previous_version_id,
        )

    def _event(self, quote: Quote, payload: EventData) -> CloudEvent:
        return quoting_event(payload, self._principal.tenant_id, quote.customer_id)
