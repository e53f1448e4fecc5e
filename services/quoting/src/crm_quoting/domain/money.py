"""Exact money arithmetic for quotes: integer minor units, no floats anywhere.

Amounts are integers in the currency's minor unit (fen for CNY, cents for USD) with an ISO 4217
code. Quantities are decimals with at most ``QUANTITY_SCALE`` fractional digits, kept as an
integer count of thousandths. Discounts and tax rates are basis points (1 bp = 0.01 %).

Rounding rule (documented, and the only place rounding happens): **per line, half-up**.

- ``gross = round(unit_price × quantity)``
- ``net = round(unit_price × quantity × (1 − discount))`` — computed from the exact product,
  rounded once, so the discount never compounds a rounding of the gross;
- ``discount = gross − net``;
- ``tax = round(net × tax_rate)`` — on the rounded net, as it is printed;
- ``total = net + tax``.

Quote totals are the sums of the rounded line amounts (never re-rounded from exact values), so
a quote's total always equals the sum of the totals printed on its lines. Half-up means a tie
(exactly .5 of a minor unit) rounds up; amounts are never negative, so this is also
"half away from zero".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crm_common.errors import BadUserInput

QUANTITY_SCALE = 3
_QUANTITY_DENOMINATOR = 10**QUANTITY_SCALE
BASIS_POINTS = 10_000
MAX_QUANTITY_UNITS = 1_000_000_000
# Far below 2**63, so sums of many lines still fit the int64 the database stores.
MAX_AMOUNT_MINOR = 10**15

# Currencies whose minor unit is not a hundredth (ISO 4217 exponent); all others use 2.
_MINOR_UNIT_EXPONENT = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_QUANTITY = re.compile(r"^(\d{1,10})(?:\.(\d{1,3}))?$")
_AMOUNT = re.compile(r"^\d{1,16}$")


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def format(self) -> str:
        """``CNY 1,234.50``: the amount with the currency's decimals, for documents."""
        exponent = minor_unit_exponent(self.currency)
        units, minor = (
            divmod(self.amount_minor, 10**exponent) if exponent else (self.amount_minor, 0)
        )
        text = f"{units:,}"
        if exponent:
            text += f".{minor:0{exponent}d}"
        return f"{self.currency} {text}"


def minor_unit_exponent(currency: str) -> int:
    return _MINOR_UNIT_EXPONENT.get(currency, 2)


def parse_currency(raw: str, field: str) -> str:
    code = raw.strip().upper()
    if not _CURRENCY.match(code):
        raise BadUserInput("currency must be a three-letter ISO 4217 code", field=field)
    return code


def parse_amount_minor(raw: str | int, field: str) -> int:
    """A non-negative amount in minor units, given as digits (Int64-as-string) or an int."""
    if isinstance(raw, bool):
        raise BadUserInput("amount must be an integer number of minor units", field=field)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _AMOUNT.match(raw.strip()):
        value = int(raw.strip())
    else:
        raise BadUserInput(
            'amount must be a whole number of minor units, as digits (e.g. "123450")',
            field=field,
        )
    if value < 0 or value > MAX_AMOUNT_MINOR:
        raise BadUserInput(f"amount must be between 0 and {MAX_AMOUNT_MINOR}", field=field)
    return value


@dataclass(frozen=True, slots=True)
class Quantity:
    """A positive decimal quantity with at most three fractional digits (as thousandths)."""

    thousandths: int

    @classmethod
    def parse(cls, raw: str, field: str) -> Quantity:
        match = _QUANTITY.match(raw.strip()) if isinstance(raw, str) else None
        if match is None:
            raise BadUserInput(
                f'quantity must be a decimal with at most {QUANTITY_SCALE} decimals, e.g. "2.5"',
                field=field,
            )
        whole, fraction = match.group(1), match.group(2) or ""
        thousandths = int(whole) * _QUANTITY_DENOMINATOR + int(fraction.ljust(QUANTITY_SCALE, "0"))
        if thousandths <= 0:
            raise BadUserInput("quantity must be greater than zero", field=field)
        if thousandths > MAX_QUANTITY_UNITS * _QUANTITY_DENOMINATOR:
            raise BadUserInput(f"quantity must be at most {MAX_QUANTITY_UNITS}", field=field)
        return cls(thousandths)

    def __str__(self) -> str:
        whole, fraction = divmod(self.thousandths, _QUANTITY_DENOMINATOR)
        if fraction == 0:
            return str(whole)
        return f"{whole}.{fraction:0{QUANTITY_SCALE}d}".rstrip("0")


def parse_basis_points(raw: int, field: str, *, what: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= BASIS_POINTS:
        raise BadUserInput(f"{what} must be basis points between 0 and {BASIS_POINTS}", field=field)
    return raw


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, ties up (both ≥ 0)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("round_half_up takes a non-negative fraction")
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True, slots=True)
class LineAmounts:
    """The rounded amounts of one quote line, in minor units of the quote's currency."""

    gross_minor: int
    discount_minor: int
    net_minor: int
    tax_minor: int
    total_minor: int


def line_amounts(
    unit_price_minor: int, quantity: Quantity, discount_bp: int, tax_rate_bp: int
) -> LineAmounts:
    """Apply the rounding rule of this module to one line."""
    exact_gross = unit_price_minor * quantity.thousandths  # in 1/1000 minor units
    gross = round_half_up(exact_gross, _QUANTITY_DENOMINATOR)
    net = round_half_up(
        exact_gross * (BASIS_POINTS - discount_bp), _QUANTITY_DENOMINATOR * BASIS_POINTS
    )
    tax = round_half_up(net * tax_rate_bp, BASIS_POINTS)
    return LineAmounts(
        gross_minor=gross,
        discount_minor=gross - net,
        net_minor=net,
        tax_minor=tax,
        total_minor=net + tax,
    )


@dataclass(frozen=True, slots=True)
class QuoteTotals:
    gross_minor: int
    discount_minor: int
    net_minor: int
    tax_minor: int
    total_minor: int


def sum_lines(lines: Iterable[LineAmounts]) -> QuoteTotals:
    """Totals are sums of the rounded lines: nothing is rounded again."""
    items: Sequence[LineAmounts] = list(lines)
    return QuoteTotals(
        gross_minor=sum(line.gross_minor for line in items),
        discount_minor=sum(line.discount_minor for line in items),
        net_minor=sum(line.net_minor for line in items),
        tax_minor=sum(line.tax_minor for line in items),
        total_minor=sum(line.total_minor for line in items),
    )
