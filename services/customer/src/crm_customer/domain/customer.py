"""The customer profile and its rules. Pure: no I/O, no framework."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from crm_common.errors import BadUserInput

NAME_MAX = 200
TAG_MAX = 50
TAGS_MAX = 30

# Legal-form suffixes that do not distinguish one company from another.
_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团",
    "co., ltd.",
    "co.,ltd.",
    "co ltd",
    "co., ltd",
    "company limited",
    "limited",
    "ltd.",
    "ltd",
    "inc.",
    "inc",
    "llc",
    "gmbh",
    "corp.",
    "corporation",
)


class CustomerType(StrEnum):
    POTENTIAL = "potential"
    INTENTION = "intention"
    DEAL = "deal"
    LONG_TERM = "long_term"
    CHURNED = "churned"


class CustomerStatus(StrEnum):
    PENDING_REVIEW = "PENDING_REVIEW"
    LEAD = "LEAD"
    INTENTION = "INTENTION"
    DEAL = "DEAL"
    CHURNED = "CHURNED"
    REJECTED = "REJECTED"


class SourceChannel(StrEnum):
    WEBSITE = "website"
    EXHIBITION = "exhibition"
    SALES_VISIT = "sales_visit"
    REFERRAL = "referral"
    ADS = "ads"
    IMPORT = "import"


def normalise_name(name: str) -> str:
    """The key two company names collide on: width, case, spacing and legal suffix ignored.

    NFKC folds full-width letters and digits to half-width (ＡＢＣ → ABC).
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    folded = re.sub(r"\s+", " ", folded).strip()
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if folded.endswith(suffix) and len(folded) > len(suffix):
                folded = folded[: -len(suffix)].rstrip(" ,.")
                changed = True
    return re.sub(r"[\s,.\-_·()（）]", "", folded)


def customer_number(day: date, sequence: int) -> str:
    """``CUS`` + yyyyMMdd + a 3-digit daily sequence (wider once a day passes 999)."""
    if sequence < 1:
        raise ValueError("sequences start at 1")
    return f"CUS{day:%Y%m%d}{sequence:03d}"


@dataclass(frozen=True, slots=True)
class Region:
    province: str
    city: str | None = None


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """A validated request to register a customer."""

    name: str
    owner_id: str
    team: str | None = None
    industry: str | None = None
    customer_type: CustomerType = CustomerType.POTENTIAL
    source: SourceChannel | None = None
    region: Region | None = None
    tags: tuple[str, ...] = ()

    @property
    def name_key(self) -> str:
        return normalise_name(self.name)


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    tenant_id: str
    number: str
    name: str
    status: CustomerStatus
    customer_type: CustomerType
    owner_id: str
    created_at: datetime
    updated_at: datetime
    team: str | None = None
    industry: str | None = None
    source: SourceChannel | None = None
    region: Region | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def validate_new_customer(
    *,
    name: str,
    owner_id: str,
    team: str | None,
    industry: str | None,
    customer_type: CustomerType,
    source: SourceChannel | None,
    region: Region | None,
    tags: list[str],
) -> NewCustomer:
    """Check a registration; the first problem is raised with the input field it concerns."""
    clean_name = re.sub(r"\s+", " ", name).strip()
    if not clean_name:
        raise BadUserInput("name must not be empty", field="input.name")
    if len(clean_name) > NAME_MAX:
        raise BadUserInput(f"name is longer than {NAME_MAX} characters", field="input.name")
    if not normalise_name(clean_name):
        raise BadUserInput("name has no letters or digits", field="input.name")
    if industry is not None and not industry.strip():
        raise BadUserInput("industry must not be blank", field="input.industry")
    if region is not None and not region.province.strip():
        raise BadUserInput("province must not be blank", field="input.region.province")
    clean_tags: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > TAG_MAX:
            raise BadUserInput(f"tags must be 1 to {TAG_MAX} characters", field="input.tags")
        if tag not in clean_tags:
            clean_tags.append(tag)
    if len(clean_tags) > TAGS_MAX:
        raise BadUserInput(f"at most {TAGS_MAX} tags", field="input.tags")
    return NewCustomer(
        name=clean_name,
        owner_id=owner_id,
        team=team,
        industry=industry.strip() if industry else None,
        customer_type=customer_type,
        source=source,
        region=region,
        tags=tuple(clean_tags),
    )
