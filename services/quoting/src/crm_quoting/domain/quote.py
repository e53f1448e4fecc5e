"""Quotes: line items, versions, the status machine and the approval rules. Pure: no I/O.

Status machine (any other move is ``BAD_USER_INPUT``)::

    DRAFT ─submit─▶ PENDING_APPROVAL ─approve─▶ APPROVED ─send─▶ SENT ─accept────▶ ACCEPTED
                      └─reject─▶ REJECTED                            ├─negotiate─▶ NEGOTIATING
                                                                     ├─decline───▶ DECLINED
                                                                     └─(past validity)▶ EXPIRED

A draft whose largest discount is under the tenant threshold goes straight to APPROVED.

A REJECTED or NEGOTIATING quote is revised into a new version (a new DRAFT with the same
number); the old version stays readable but is superseded and takes no further action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Forbidden
from crm_quoting.domain.money import (
    LineAmounts,
    Money,
    Quantity,
    QuoteTotals,
    line_amounts,
    sum_lines,
)
from crm_quoting.domain.permissions import approves_tenant_wide, can_approve

MAX_LINES = 200
COMMENT_MAX = 2000
DEFAULT_AUTO_APPROVE_BELOW_BP = (
    500  # 5 %: quotes whose largest discount is under it need no manager
)


class QuoteStatus(StrEnum):
    DRAFT = "DRAFT"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    NEGOTIATING = "NEGOTIATING"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"


class QuoteAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    SEND = "send"
    ACCEPT = "accept"
    NEGOTIATE = "negotiate"
    DECLINE = "decline"
    EXPIRE = "expire"
    REVISE = "revise"


class CustomerResponse(StrEnum):
    ACCEPT = "ACCEPT"
    NEGOTIATE = "NEGOTIATE"
    DECLINE = "DECLINE"


# action -> (statuses it may start from, status it leads to; None: the status does not change)
TRANSITIONS: dict[QuoteAction, tuple[frozenset[QuoteStatus], QuoteStatus | None]] = {
    QuoteAction.SUBMIT: (frozenset({QuoteStatus.DRAFT}), QuoteStatus.PENDING_APPROVAL),
    QuoteAction.APPROVE: (frozenset({QuoteStatus.PENDING_APPROVAL}), QuoteStatus.APPROVED),
    QuoteAction.REJECT: (frozenset({QuoteStatus.PENDING_APPROVAL}), QuoteStatus.REJECTED),
    QuoteAction.SEND: (frozenset({QuoteStatus.APPROVED}), QuoteStatus.SENT),
    QuoteAction.ACCEPT: (frozenset({QuoteStatus.SENT}), QuoteStatus.ACCEPTED),
    QuoteAction.NEGOTIATE: (frozenset({QuoteStatus.SENT}), QuoteStatus.NEGOTIATING),
    QuoteAction.DECLINE: (frozenset({QuoteStatus.SENT}), QuoteStatus.DECLINED),
    QuoteAction.EXPIRE: (frozenset({QuoteStatus.SENT}), QuoteStatus.EXPIRED),
    QuoteAction.REVISE: (frozenset({QuoteStatus.REJECTED, QuoteStatus.NEGOTIATING}), None),
}
RESPONSE_ACTION = {
    CustomerResponse.ACCEPT: QuoteAction.ACCEPT,
    CustomerResponse.NEGOTIATE: QuoteAction.NEGOTIATE,
    CustomerResponse.DECLINE: QuoteAction.DECLINE,
}


@dataclass(frozen=True, slots=True)
class QuoteLine:
    """One line as quoted: what, how many, at which price, and its rounded amounts."""

    position: int
    description: str
    unit: str
    quantity: Quantity
    unit_price_minor: int
    discount_bp: int
    tax_rate_bp: int
    catalogue_item_id: str | None = None
    catalogue_code: str | None = None
    price_version: int | None = None

    @property
    def amounts(self) -> LineAmounts:
        return line_amounts(
            self.unit_price_minor, self.quantity, self.discount_bp, self.tax_rate_bp
        )


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    decision: str  # APPROVED / REJECTED / AUTO_APPROVED
    actor_id: str
    comment: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Quote:
    id: str
    tenant_id: str
    number: str
    version: int
    opportunity_id: str
    customer_id: str
    owner_id: str
    team: str | None
    currency: str
    valid_until: date
    status: QuoteStatus
    lines: tuple[QuoteLine, ...]
    created_at: datetime
    updated_at: datetime
    superseded: bool = False
    approval: ApprovalRecord | None = None
    response_comment: str | None = None
    previous_version_id: str | None = None
    history: tuple[tuple[str, str, datetime], ...] = field(default_factory=tuple)

    @property
    def totals(self) -> QuoteTotals:
        return sum_lines(line.amounts for line in self.lines)

    @property
    def total(self) -> Money:
        return Money(self.totals.total_minor, self.currency)

    @property
    def max_discount_bp(self) -> int:
        return max((line.discount_bp for line in self.lines), default=0)


def check_action(quote: Quote, action: QuoteAction) -> QuoteStatus | None:
    """The status ``action`` leads to; ``BAD_USER_INPUT`` if the quote's status forbids it."""
    if quote.superseded:
        raise BadUserInput(
            f"version {quote.version} was revised; act on the latest version", field="input.id"
        )
    allowed_from, target = TRANSITIONS[action]
    if quote.status not in allowed_from:
        allowed = ", ".join(sorted(s.value for s in allowed_from))
        raise BadUserInput(
            f"cannot {action.value} a {quote.status.value} quote (only from {allowed})",
            field="input.id",
        )
    return target


def approves_automatically(max_discount_bp: int, threshold_bp: int) -> bool:
    """Quotes whose largest discount is strictly under the tenant threshold need no manager."""
    return max_discount_bp < threshold_bp


def check_approver(principal: Principal, quote: Quote) -> None:
    """A sales manager of the quote's team (or an admin) decides; never on their own quote."""
    can_approve(principal)
    if principal.user_id == quote.owner_id:
        raise Forbidden("nobody approves or rejects their own quote")
    if not approves_tenant_wide(principal) and quote.team != principal.team:
        raise Forbidden("a sales manager decides on the quotes of their own team")


def clean_comment(raw: str | None, field: str, *, required: bool) -> str | None:
    comment = (raw or "").strip() or None
    if required and comment is None:
        raise BadUserInput("a comment is required", field=field)
    if comment is not None and len(comment) > COMMENT_MAX:
        raise BadUserInput(f"comment is longer than {COMMENT_MAX} characters", field=field)
    return comment


def check_validity(valid_until: date, today: date) -> date:
    if valid_until < today:
        raise BadUserInput("validUntil must not be in the past", field="input.validUntil")
    return valid_until


def quote_number(day: date, sequence: int) -> str:
    """``QUO`` + yyyyMMdd + a daily sequence of at least three digits (QUO20261123001)."""
    return f"QUO{day:%Y%m%d}{sequence:03d}"
