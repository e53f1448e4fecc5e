"""Quote rules: the status machine, approval (manual, automatic, never your own), matching."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden
from crm_quoting.domain.catalogue import Need, NeedCategory, Solution, SolutionKind, match_solutions
from crm_quoting.domain.money import Quantity
from crm_quoting.domain.quote import (
    TRANSITIONS,
    Quote,
    QuoteAction,
    QuoteLine,
    QuoteStatus,
    approves_automatically,
    check_action,
    check_approver,
    check_validity,
    quote_number,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _line(discount_bp: int, price: int = 10000) -> QuoteLine:
    return QuoteLine(
        position=1,
        description="Seat licence",
        unit="seat",
        quantity=Quantity.parse("2", "q"),
        unit_price_minor=price,
        discount_bp=discount_bp,
        tax_rate_bp=1300,
    )


def _quote(status: QuoteStatus = QuoteStatus.DRAFT, *discounts: int) -> Quote:
    return Quote(
        id="q1",
        tenant_id="t1",
        number="QUO20261123001",
        version=1,
        opportunity_id="o1",
        customer_id="c1",
        owner_id="alice",
        team="north",
        currency="CNY",
        valid_until=date(2026, 12, 31),
        status=status,
        lines=tuple(_line(d) for d in discounts or (0,)),
        created_at=NOW,
        updated_at=NOW,
    )


def _principal(*roles: str, user: str, team: str | None = "north") -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles), team=team)


@pytest.mark.parametrize(
    ("status", "action", "target"),
    [
        (QuoteStatus.DRAFT, QuoteAction.SUBMIT, QuoteStatus.PENDING_APPROVAL),
        (QuoteStatus.PENDING_APPROVAL, QuoteAction.APPROVE, QuoteStatus.APPROVED),
        (QuoteStatus.PENDING_APPROVAL, QuoteAction.REJECT, QuoteStatus.REJECTED),
        (QuoteStatus.APPROVED, QuoteAction.SEND, QuoteStatus.SENT),
        (QuoteStatus.SENT, QuoteAction.ACCEPT, QuoteStatus.ACCEPTED),
        (QuoteStatus.SENT, QuoteAction.NEGOTIATE, QuoteStatus.NEGOTIATING),
        (QuoteStatus.SENT, QuoteAction.DECLINE, QuoteStatus.DECLINED),
        (QuoteStatus.SENT, QuoteAction.EXPIRE, QuoteStatus.EXPIRED),
    ],
)
def test_legal_moves(status: QuoteStatus, action: QuoteAction, target: QuoteStatus) -> None:
    assert check_action(_quote(status), action) == target


def test_every_other_move_is_bad_input() -> None:
    illegal = 0
    for action, (allowed_from, _) in TRANSITIONS.items():
        for status in QuoteStatus:
            if status in allowed_from:
                continue
            illegal += 1
            with pytest.raises(BadUserInput) as exc:
                check_action(_quote(status), action)
            assert exc.value.field == "input.id"
    assert illegal > 50  # the table really forbids most pairs


def test_only_rejected_or_negotiating_quotes_are_revised() -> None:
    assert check_action(_quote(QuoteStatus.REJECTED), QuoteAction.REVISE) is None
    assert check_action(_quote(QuoteStatus.NEGOTIATING), QuoteAction.REVISE) is None
    with pytest.raises(BadUserInput):
        check_action(_quote(QuoteStatus.ACCEPTED), QuoteAction.REVISE)


def test_a_superseded_version_takes_no_action() -> None:
    old = replace(_quote(QuoteStatus.NEGOTIATING), superseded=True)
    with pytest.raises(BadUserInput, match="revised"):
        check_action(old, QuoteAction.REVISE)


def test_auto_approval_is_strictly_under_the_threshold() -> None:
    assert approves_automatically(499, 500)
    assert not approves_automatically(500, 500)
    assert not approves_automatically(0, 0)  # threshold 0: every quote needs a manager
    assert _quote(QuoteStatus.DRAFT, 200, 1500, 0).max_discount_bp == 1500


def test_a_manager_of_the_team_approves() -> None:
    check_approver(_principal(Role.SALES_MANAGER, user="mary"), _quote())
    check_approver(_principal(Role.ADMIN, user="root", team=None), _quote())


@pytest.mark.parametrize(
    "principal",
    [
        _principal(Role.SALES_REP, user="bob"),  # not a manager
        _principal(Role.SALES_MANAGER, Role.SALES_REP, user="alice"),  # their own quote
        _principal(Role.ADMIN, user="alice"),  # their own, even as admin
        _principal(Role.SALES_MANAGER, user="sam", team="south"),  # another team
        _principal(Role.ANALYST, user="ann"),
    ],
)
def test_who_may_not_approve(principal: Principal) -> None:
    with pytest.raises(Forbidden):
        check_approver(principal, _quote(QuoteStatus.PENDING_APPROVAL))


def test_validity_and_numbers() -> None:
    with pytest.raises(BadUserInput) as exc:
        check_validity(date(2026, 11, 22), date(2026, 11, 23))
    assert exc.value.field == "input.validUntil"
    assert check_validity(date(2026, 11, 23), date(2026, 11, 23)) == date(2026, 11, 23)
    assert quote_number(date(2026, 11, 23), 7) == "QUO20261123007"


def test_quote_total_is_sum_of_line_totals() -> None:
    quote = _quote(QuoteStatus.DRAFT, 0, 1000)
    assert quote.total.amount_minor == sum(line.amounts.total_minor for line in quote.lines)
    # 2 × 100.00, 13 % VAT → 226.00; with 10 % off → 180.00 + 23.40 = 203.40
    assert quote.total.amount_minor == 22600 + 20340


def test_needs_match_solutions_of_their_kind_best_first() -> None:
    def solution(sid: str, name: str, kind: SolutionKind, description: str = "") -> Solution:
        return Solution(sid, "t1", name, kind, description, NOW)

    library = [
        solution("s1", "CRM Cloud Standard", SolutionKind.STANDARD_PRODUCT, "seats, cloud"),
        solution("s2", "ERP Connector", SolutionKind.CUSTOM_DEVELOPMENT, "integration with ERP"),
        solution("s3", "Data Migration", SolutionKind.CUSTOM_DEVELOPMENT, "import legacy data"),
        solution("s4", "Gold Support 金牌服务", SolutionKind.AFTER_SALES_PACKAGE, "7x24 support"),
    ]
    need = Need("n1", "t1", "o1", NeedCategory.CUSTOMISATION, "integrate our ERP", "u", NOW)
    assert [s.id for s in match_solutions(need, library)] == ["s2", "s3"]
    service_need = Need("n2", "t1", "o1", NeedCategory.SERVICE, "需要金牌服务", "u", NOW)
    assert [s.id for s in match_solutions(service_need, library)] == ["s4"]
