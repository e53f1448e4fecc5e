"""Money arithmetic: exact integers, per-line half-up rounding, totals = sum of rounded lines.

Property tests (hypothesis) check the rules against an independent computation with
``fractions.Fraction``; example tests pin the documented rounding on hand-computed cases.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_common.errors import BadUserInput
from crm_quoting.domain.money import (
    BASIS_POINTS,
    MAX_AMOUNT_MINOR,
    LineAmounts,
    Money,
    Quantity,
    line_amounts,
    parse_amount_minor,
    parse_currency,
    round_half_up,
    sum_lines,
)

prices = st.integers(min_value=0, max_value=10**10)
quantities = st.integers(min_value=1, max_value=10**7).map(Quantity)
basis_points = st.integers(min_value=0, max_value=BASIS_POINTS)
lines = st.tuples(prices, quantities, basis_points, basis_points)


def _half_up(value: Fraction) -> int:
    """Reference rounding, written differently from the implementation."""
    floor = value.numerator // value.denominator
    return floor + 1 if value - floor >= Fraction(1, 2) else floor


@given(lines)
def test_line_amounts_match_an_exact_fraction_computation(
    line: tuple[int, Quantity, int, int],
) -> None:
    price, quantity, discount, tax = line
    amounts = line_amounts(price, quantity, discount, tax)
    exact_gross = Fraction(price) * Fraction(quantity.thousandths, 1000)
    exact_net = exact_gross * (1 - Fraction(discount, BASIS_POINTS))
    assert amounts.gross_minor == _half_up(exact_gross)
    assert amounts.net_minor == _half_up(exact_net)
    assert amounts.tax_minor == _half_up(amounts.net_minor * Fraction(tax, BASIS_POINTS))
    assert amounts.total_minor == amounts.net_minor + amounts.tax_minor
    assert amounts.discount_minor == amounts.gross_minor - amounts.net_minor
    assert 0 <= amounts.net_minor <= amounts.gross_minor
    # Every rounding is within half a minor unit of the exact value.
    assert abs(amounts.net_minor - exact_net) <= Fraction(1, 2)


@given(st.lists(lines, min_size=0, max_size=30))
def test_quote_totals_are_the_sums_of_the_rounded_lines(
    items: list[tuple[int, Quantity, int, int]],
) -> None:
    amounts = [line_amounts(*item) for item in items]
    totals = sum_lines(amounts)
    assert totals.total_minor == sum(a.total_minor for a in amounts)
    assert totals.net_minor == sum(a.net_minor for a in amounts)
    assert totals.tax_minor == sum(a.tax_minor for a in amounts)
    assert totals.gross_minor - totals.discount_minor == totals.net_minor
    assert totals.net_minor + totals.tax_minor == totals.total_minor


@given(lines)
def test_no_float_anywhere_in_the_results(line: tuple[int, Quantity, int, int]) -> None:
    amounts = line_amounts(*line)
    for field in dataclasses.fields(LineAmounts):
        assert type(getattr(amounts, field.name)) is int


@given(st.integers(min_value=1, max_value=10**9 * 1000))
def test_quantity_text_round_trips(thousandths: int) -> None:
    quantity = Quantity(thousandths)
    assert Quantity.parse(str(quantity), "q") == quantity


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10**6))
def test_round_half_up_is_nearest_with_ties_up(numerator: int, denominator: int) -> None:
    result = round_half_up(numerator, denominator)
    assert result == _half_up(Fraction(numerator, denominator))


def test_documented_rounding_examples() -> None:
    # 3 × 0.333 at 1.00: exact 0.999 → 1 fen gross; half-up ties go up.
    assert round_half_up(5, 2) == 3 and round_half_up(3, 2) == 2 and round_half_up(1, 2) == 1
    one = line_amounts(1, Quantity.parse("0.5", "q"), 0, 0)
    assert one.net_minor == 1  # 0.5 fen rounds up
    # ¥199.99 × 3, 15 % off, 13 % VAT: net = 509.9745 → 509.97; tax = 66.2961 → 66.30.
    amounts = line_amounts(19999, Quantity.parse("3", "q"), 1500, 1300)
    assert amounts == LineAmounts(
        gross_minor=59997, discount_minor=9000, net_minor=50997, tax_minor=6630, total_minor=57627
    )
    # Per line, not on the total: two lines of 0.5 fen each round up to 1 fen each.
    half = line_amounts(1, Quantity.parse("0.5", "q"), 0, 0)
    assert sum_lines([half, half]).total_minor == 2


@pytest.mark.parametrize("raw", ["", "0", "0.000", "-1", "1.2345", "1e3", "abc", "1,5", " 1. "])
def test_bad_quantities_are_refused(raw: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        Quantity.parse(raw, "input.lines.0.quantity")
    assert exc.value.field == "input.lines.0.quantity"


def test_quantities_parse_exactly() -> None:
    assert Quantity.parse("2", "q").thousandths == 2000
    assert Quantity.parse("1.5", "q").thousandths == 1500
    assert Quantity.parse("0.125", "q").thousandths == 125
    assert str(Quantity.parse("1.50", "q")) == "1.5"


@pytest.mark.parametrize("raw", ["-1", "1.5", "12a", "", str(MAX_AMOUNT_MINOR + 1), "1e5"])
def test_bad_amounts_are_refused(raw: str) -> None:
    with pytest.raises(BadUserInput):
        parse_amount_minor(raw, "input.amount.amountMinor")


def test_floats_and_bools_are_not_amounts() -> None:
    with pytest.raises(BadUserInput):
        parse_amount_minor(1.5, "x")  # type: ignore[arg-type]
    with pytest.raises(BadUserInput):
        parse_amount_minor(True, "x")
    assert parse_amount_minor("123450", "x") == 123450


def test_currencies_and_formatting() -> None:
    assert parse_currency(" cny ", "c") == "CNY"
    with pytest.raises(BadUserInput):
        parse_currency("yuan", "c")
    assert Money(123450, "CNY").format() == "CNY 1,234.50"
    assert Money(5, "USD").format() == "USD 0.05"
    assert Money(1500, "JPY").format() == "JPY 1,500"
    with pytest.raises(ValueError, match="cannot add"):
        Money(1, "CNY") + Money(1, "USD")
