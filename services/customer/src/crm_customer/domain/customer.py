"""The customer profile and its rules. Pure: no I/O, no framework."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any

from crm_common.errors import BadUserInput
from crm_common.regions import canonical_province
from crm_customer.domain.contacts import Contact

NAME_MAX = 200
TEXT_MAX = 100
ADDRESS_MAX = 500
NEEDS_MAX = 4000
TAG_MAX = 50
TAGS_MAX = 30
EMPLOYEES_MAX = 10_000_000
REASON_MAX = 1000

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


class ValueTier(StrEnum):
    """按价值划分: A (key account), B (growth), C (standard); see `domain/tiers.py`."""

    A = "A"
    B = "B"
    C = "C"


class SourceChannel(StrEnum):
    WEBSITE = "website"
    EXHIBITION = "exhibition"
    SALES_VISIT = "sales_visit"
    REFERRAL = "referral"
    ADS = "ads"
    IMPORT = "import"


class Urgency(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class RiskTag(StrEnum):
    BUDGET_SHORT = "BUDGET_SHORT"
    COMPLEX_DECISION_CHAIN = "COMPLEX_DECISION_CHAIN"
    COMPETITOR_INVOLVED = "COMPETITOR_INVOLVED"


class RevenueBand(StrEnum):
    """Annual revenue in CNY."""

    UNDER_1M = "UNDER_1M"
    FROM_1M_TO_10M = "FROM_1M_TO_10M"
    FROM_10M_TO_100M = "FROM_10M_TO_100M"
    FROM_100M_TO_1B = "FROM_100M_TO_1B"
    OVER_1B = "OVER_1B"


@functools.lru_cache(maxsize=4096)  # imports ask twice per row
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
class CompanySize:
    employees: int | None = None
    revenue_band: RevenueBand | None = None


@dataclass(frozen=True, slots=True)
class BudgetRange:
    """What the customer can spend, in integer minor units of ``currency``."""

    min_minor: int
    max_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything about the company itself that a user edits (each field is history-tracked)."""

    name: str
    industry: str | None = None
    customer_type: CustomerType = CustomerType.POTENTIAL
    region: Region | None = None
    address: str | None = None
    founded_on: date | None = None
    size: CompanySize | None = None
    source: SourceChannel | None = None
    tags: tuple[str, ...] = ()
    risk_tags: tuple[RiskTag, ...] = ()
    needs: str | None = None
    urgency: Urgency | None = None
    budget: BudgetRange | None = None
    geo: GeoPoint | None = None
    # Derived once (normalising is the hot spot of bulk imports).
    name_key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name_key", normalise_name(self.name))


PROFILE_FIELDS = tuple(f.name for f in dataclasses.fields(Profile) if f.init)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One field-level change: who changed which field, when, from what to what (plain values)."""

    at: datetime
    actor_id: str
    field: str
    before: Any
    after: Any
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Review:
    approved: bool
    comment: str | None
    actor_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    tenant_id: str
    number: str
    profile: Profile
    status: CustomerStatus
    owner_id: str
    created_at: datetime
    updated_at: datetime
    team: str | None = None
    version: int = 1
    contacts: tuple[Contact, ...] = ()
    # None when the history was not loaded (list queries leave it out).
    history: tuple[HistoryEntry, ...] | None = field(default=None)
    review: Review | None = None
    deleted_at: datetime | None = None
    merged_into: str | None = None
    # Values of the tenant's custom fields by key (see `custom_fields`); compare=False keeps
    # the generated hash usable, the version tells states apart anyway.
    custom_fields: Mapping[str, Any] = field(default_factory=dict, compare=False)
    # Deal revenue: the sum of the customer's accepted quotes (minor units), and which quotes
    # it counts (an accepted quote is counted once however often its event arrives).
    deal_revenue_minor: int = 0
    revenue_quote_ids: tuple[str, ...] = ()
    # Derived from deal revenue and potential under the tenant's thresholds (`domain/tiers.py`);
    # set by the use cases on every change (`with_derived`).
    value_tier: ValueTier = ValueTier.C

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def is_tombstone(self) -> bool:
        return self.merged_into is not None


# --- validation -------------------------------------------------------------------------


def _clean_text(value: str | None, field_name: str, max_len: int) -> str | None:
    if value is None:
        return None
    text = re.sub(r"\s+", " ", value).strip()
    if not text:
        raise BadUserInput(f"{field_name} must not be blank", field=f"input.{field_name}")
    if len(text) > max_len:
        raise BadUserInput(
            f"{field_name} is longer than {max_len} characters", field=f"input.{field_name}"
        )
    return text


def _clean_name(name: str | None) -> str:
    text = re.sub(r"\s+", " ", name or "").strip()
    if not text:
        raise BadUserInput("name must not be empty", field="input.name")
    if len(text) > NAME_MAX:
        raise BadUserInput(f"name is longer than {NAME_MAX} characters", field="input.name")
    if not normalise_name(text):
        raise BadUserInput("name has no letters or digits", field="input.name")
    return text


def _clean_tags(tags: Any) -> tuple[str, ...]:
    clean: list[str] = []
    for raw in tags or ():
        tag = str(raw).strip()
        if not tag or len(tag) > TAG_MAX:
            raise BadUserInput(f"tags must be 1 to {TAG_MAX} characters", field="input.tags")
        if tag not in clean:
            clean.append(tag)
        # Checked as we go: 50,000 distinct tags would cost O(n^2) `in` checks first.
        if len(clean) > TAGS_MAX:
            raise BadUserInput(f"at most {TAGS_MAX} tags", field="input.tags")
    return tuple(clean)


def _clean_region(region: Region | None) -> Region | None:
    if region is None:
        return None
    province = canonical_province(region.province)
    if province is None:
        raise BadUserInput(f"unknown province {region.province!r}", field="input.region.province")
    city = _clean_text(region.city, "region.city", TEXT_MAX) if region.city is not None else None
    return Region(province, city)


def _clean_size(size: CompanySize | None) -> CompanySize | None:
    if size is None:
        return None
    if size.employees is not None and not 0 <= size.employees <= EMPLOYEES_MAX:
        raise BadUserInput(
            f"employees must be between 0 and {EMPLOYEES_MAX}", field="input.size.employees"
        )
    if size.employees is None and size.revenue_band is None:
        return None
    return size


def _clean_budget(budget: BudgetRange | None) -> BudgetRange | None:
    if budget is None:
        return None
    if budget.min_minor < 0:
        raise BadUserInput("budget minimum must not be negative", field="input.budget.minMinor")
    if budget.max_minor < budget.min_minor:
        raise BadUserInput(
            "budget maximum must not be below the minimum", field="input.budget.maxMinor"
        )
    if not re.fullmatch(r"[A-Z]{3}", budget.currency):
        raise BadUserInput(
            "currency must be a 3-letter ISO 4217 code", field="input.budget.currency"
        )
    return budget


def _clean_geo(geo: GeoPoint | None) -> GeoPoint | None:
    if geo is None:
        return None
    if not (math.isfinite(geo.lat) and -90 <= geo.lat <= 90):
        raise BadUserInput("latitude must be between -90 and 90", field="input.geo.lat")
    if not (math.isfinite(geo.lng) and -180 <= geo.lng <= 180):
        raise BadUserInput("longitude must be between -180 and 180", field="input.geo.lng")
    return geo


def _clean_founded(founded_on: date | None, today: date) -> date | None:
    if founded_on is not None and founded_on > today:
        raise BadUserInput("founded date must not be in the future", field="input.foundedOn")
    return founded_on


def clean_profile_values(values: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Validate the given profile fields (only those present); the first problem is raised."""
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    clean: dict[str, Any] = {}
    for name, value in values.items():
        match name:
            case "name":
                clean[name] = _clean_name(value)
            case "industry":
                clean[name] = _clean_text(value, "industry", TEXT_MAX)
            case "address":
                clean[name] = _clean_text(value, "address", ADDRESS_MAX)
            case "needs":
                clean[name] = _clean_text(value, "needs", NEEDS_MAX)
            case "customer_type":
                clean[name] = value if value is not None else CustomerType.POTENTIAL
            case "tags":
                clean[name] = _clean_tags(value)
            case "risk_tags":
                clean[name] = tuple(dict.fromkeys(value or ()))
            case "region":
                clean[name] = _clean_region(value)
            case "size":
                clean[name] = _clean_size(value)
            case "budget":
                clean[name] = _clean_budget(value)
            case "geo":
                clean[name] = _clean_geo(value)
            case "founded_on":
                clean[name] = _clean_founded(value, today)
            case _:
                clean[name] = value
    return clean


def new_profile(values: Mapping[str, Any], today: date) -> Profile:
    """A validated profile for a new customer (``name`` is required)."""
    if values.get("name") is None:
        raise BadUserInput("name is required", field="input.name")
    return Profile(**clean_profile_values(values, today))


def to_plain(value: Any) -> Any:
    """A JSON-friendly form of a profile value (for history and change lists)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    return value


def profile_changes(
    before: Profile, after: Profile, *, actor_id: str, at: datetime
) -> list[HistoryEntry]:
    """One history entry per field whose value differs."""
    return [
        HistoryEntry(at, actor_id, name, to_plain(old), to_plain(new))
        for name in PROFILE_FIELDS
        if (old := getattr(before, name)) != (new := getattr(after, name))
    ]


def clean_reason(reason: str | None, field_name: str = "reason") -> str | None:
    if reason is None or not reason.strip():
        return None
    return _clean_text(reason, field_name, REASON_MAX)


# --- lifecycle ----------------------------------------------------------------------------

_ACTIVE = {CustomerStatus.LEAD, CustomerStatus.INTENTION, CustomerStatus.DEAL}
TRANSITIONS: dict[CustomerStatus, frozenset[CustomerStatus]] = {
    CustomerStatus.LEAD: frozenset({CustomerStatus.INTENTION, CustomerStatus.CHURNED}),
    CustomerStatus.INTENTION: frozenset({CustomerStatus.DEAL, CustomerStatus.CHURNED}),
    CustomerStatus.DEAL: frozenset({CustomerStatus.CHURNED}),
    CustomerStatus.CHURNED: frozenset({CustomerStatus.INTENTION}),
}


def check_transition(current: CustomerStatus, target: CustomerStatus) -> None:
    """Raise `BadUserInput` unless the lifecycle allows ``current`` → ``target``."""
    if current in (CustomerStatus.PENDING_REVIEW, CustomerStatus.REJECTED):
        raise BadUserInput(
            f"a customer in {current.value} has no lifecycle yet: it must be approved first",
            field="input.status",
        )
    if target not in TRANSITIONS.get(current, frozenset()):
        raise BadUserInput(
            f"a customer cannot move from {current.value} to {target.value}",
            field="input.status",
        )


# --- customer type follows the lifecycle ----------------------------------------------------

# The one source of truth is the lifecycle status; the type is derived from it. Only a DEAL may
# be marked LONG_TERM (a relationship beyond the first deal); nothing else can be chosen.
TYPES_OF_STATUS: dict[CustomerStatus, tuple[CustomerType, ...]] = {
    CustomerStatus.PENDING_REVIEW: (CustomerType.POTENTIAL,),
    CustomerStatus.LEAD: (CustomerType.POTENTIAL,),
    CustomerStatus.REJECTED: (CustomerType.POTENTIAL,),
    CustomerStatus.INTENTION: (CustomerType.INTENTION,),
    CustomerStatus.DEAL: (CustomerType.DEAL, CustomerType.LONG_TERM),
    CustomerStatus.CHURNED: (CustomerType.CHURNED,),
}


def allowed_types(status: CustomerStatus) -> tuple[CustomerType, ...]:
    """The customer types a status allows, the default first (a status added later without
    an entry counts as POTENTIAL until it gets one)."""
    return TYPES_OF_STATUS.get(status, (CustomerType.POTENTIAL,))


def type_for(status: CustomerStatus, current: CustomerType) -> CustomerType:
    """The type a customer in ``status`` has: ``current`` if the status allows it, else the
    status's default (so a status change always carries the type along)."""
    allowed = allowed_types(status)
    return current if current in allowed else allowed[0]


def check_requested_type(status: CustomerStatus, requested: CustomerType) -> None:
    """Refuse a type the lifecycle status contradicts (the type follows the status)."""
    allowed = allowed_types(status)
    if requested not in allowed:
        raise BadUserInput(
            f"customerType follows the lifecycle status: a {status.value} customer is "
            + " or ".join(t.name for t in allowed)
            + f", not {requested.name} (change the status instead)",
            field="input.customerType",
        )


def moves_to_deal_on_accepted_quote(current: CustomerStatus) -> bool:
    """An accepted quote makes an approved customer a deal (a no-op if it already is one)."""
    return current in (_ACTIVE | {CustomerStatus.CHURNED}) - {CustomerStatus.DEAL}
