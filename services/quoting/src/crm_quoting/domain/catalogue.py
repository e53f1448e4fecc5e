"""The solution library and customer needs. Pure: no I/O.

A solution (standard product, custom development, after-sales service package) groups
catalogue items. An item's price is versioned: changing it appends a new version, and a quote
line records the version (and the amounts) it was made with, so later price changes never
alter an existing quote.

Needs are classified product / service / customisation; each class is served by one kind of
solution, and among those the ones sharing most words with the need's description rank first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput
from crm_quoting.domain.money import Money, parse_amount_minor, parse_basis_points, parse_currency

TEXT_MAX = 200
DESCRIPTION_MAX = 2000
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


class SolutionKind(StrEnum):
    STANDARD_PRODUCT = "STANDARD_PRODUCT"
    CUSTOM_DEVELOPMENT = "CUSTOM_DEVELOPMENT"
    AFTER_SALES_PACKAGE = "AFTER_SALES_PACKAGE"


class NeedCategory(StrEnum):
    PRODUCT = "PRODUCT"
    SERVICE = "SERVICE"
    CUSTOMISATION = "CUSTOMISATION"


SOLUTION_KIND_FOR_NEED = {
    NeedCategory.PRODUCT: SolutionKind.STANDARD_PRODUCT,
    NeedCategory.SERVICE: SolutionKind.AFTER_SALES_PACKAGE,
    NeedCategory.CUSTOMISATION: SolutionKind.CUSTOM_DEVELOPMENT,
}


@dataclass(frozen=True, slots=True)
class Solution:
    id: str
    tenant_id: str
    name: str
    kind: SolutionKind
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PriceVersion:
    version: int
    list_price: Money
    tax_rate_bp: int
    effective_from: datetime
    set_by: str


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    id: str
    tenant_id: str
    solution_id: str
    code: str
    name: str
    unit: str
    prices: tuple[PriceVersion, ...]
    created_at: datetime

    @property
    def current_price(self) -> PriceVersion:
        return self.prices[-1]


@dataclass(frozen=True, slots=True)
class Need:
    id: str
    tenant_id: str
    opportunity_id: str
    category: NeedCategory
    description: str
    created_by: str
    created_at: datetime


def clean_text(raw: str, field: str, *, limit: int = TEXT_MAX, required: bool = True) -> str:
    text = re.sub(r"\s+", " ", raw or "").strip()
    if required and not text:
        raise BadUserInput(f"{field.rsplit('.', 1)[-1]} must not be empty", field=field)
    if len(text) > limit:
        raise BadUserInput(
            f"{field.rsplit('.', 1)[-1]} is longer than {limit} characters", field=field
        )
    return text


def validate_code(raw: str) -> str:
    code = (raw or "").strip().upper()
    if not _CODE.match(code):
        raise BadUserInput(
            "code is 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="input.code",
        )
    return code


def validate_price(amount_minor: str | int, currency: str, tax_rate_bp: int) -> tuple[Money, int]:
    money = Money(
        parse_amount_minor(amount_minor, "input.listPrice.amountMinor"),
        parse_currency(currency, "input.listPrice.currency"),
    )
    return money, parse_basis_points(tax_rate_bp, "input.taxRateBp", what="taxRateBp")


def _words(text: str) -> set[str]:
    # Latin words, and single CJK characters (Chinese has no spaces between words).
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]+|[\u4e00-\u9fff]", text)}


def match_solutions(need: Need, solutions: list[Solution]) -> list[Solution]:
    """Solutions of the kind that serves the need, best keyword overlap first, then by name."""
    kind = SOLUTION_KIND_FOR_NEED[need.category]
    wanted = _words(need.description)
    candidates = [s for s in solutions if s.kind == kind]
    return sorted(
        candidates,
        key=lambda s: (-len(wanted & _words(f"{s.name} {s.description}")), s.name, s.id),
    )
