"""GraphQL types of the customer subgraph."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from crm_common.errors import BadUserInput
from crm_common.graphql.filters import (
    DateTimeFilter,
    EnumFilter,
    IDFilter,
    IntFilter,
    StringFilter,
    StringListFilter,
)
from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_customer.api import cadence as cadence_api
from crm_customer.domain import completeness as completeness_model
from crm_customer.domain import contacts as contact_model
from crm_customer.domain import custom_fields as field_model
from crm_customer.domain import customer as model
from crm_customer.domain import files as file_model
from crm_customer.domain import importing
from crm_customer.domain import tiers as tier_model
from crm_customer.service import tables

CustomerStatus = strawberry.enum(
    model.CustomerStatus, description="Where the customer is in review and lifecycle."
)
CustomerType = strawberry.enum(
    model.CustomerType,
    description="Commercial relationship with the customer; follows the lifecycle status "
    "(PENDING_REVIEW, LEAD, REJECTED: POTENTIAL; INTENTION: INTENTION; DEAL: DEAL or "
    "LONG_TERM; CHURNED: CHURNED).",
)
ValueTier = strawberry.enum(
    model.ValueTier,
    description="Value tier (按价值划分): A from the tenant's A thresholds of deal revenue or "
    "potential, B from the B thresholds, C otherwise.",
)
CompletenessItem = strawberry.enum(
    completeness_model.CompletenessItem,
    description="A key profile item counted by data completeness; missing ones are shown as "
    "待补充 (to be completed).",
)
FileKind = strawberry.enum(
    file_model.FileKind,
    description="What a stored file is: a customer's QUALIFICATION, CONTRACT, PROPOSAL, "
    "DELIVERABLE (a service desk work result) or OTHER file; IMPORT/EXPORT tables.",
)
FileAction = strawberry.enum(
    file_model.FileAction,
    description="A change made to a stored customer file: RENAMED, RECATEGORISED, DELETED, or "
    "PURGED (the deleted file's bytes removed after the retention period, by "
    "system:file-purge).",
)
SourceChannel = strawberry.enum(model.SourceChannel, description="How the customer found us.")
Urgency = strawberry.enum(model.Urgency, description="How urgent the customer's need is.")
RiskTag = strawberry.enum(model.RiskTag, description="Known risks of winning this customer.")
RevenueBand = strawberry.enum(model.RevenueBand, description="Annual revenue band (CNY).")
DecisionRole = strawberry.enum(
    contact_model.DecisionRole, description="A contact's role in the buying decision."
)


CustomFieldType = strawberry.enum(
    field_model.CustomFieldType, description="The type of a tenant's custom field."
)


@strawberry.type(description="A custom field an admin defined for the tenant.")
class CustomFieldDefinition:
    key: str = strawberry.field(
        description="Stable machine key of the field (a-z, 0-9, _), used in inputs and filters."
    )
    label: str = strawberry.field(description="Name shown to users.")
    type: CustomFieldType = strawberry.field(description="The type of the field's values.")  # type: ignore[valid-type]
    required: bool = strawberry.field(
        description="True if every new or changed customer must have a value."
    )
    options: list[str] = strawberry.field(description="The choices of a (multi-)select field")

    @classmethod
    def from_model(cls, d: field_model.CustomFieldDefinition) -> CustomFieldDefinition:
        return cls(
            key=d.key, label=d.label, type=d.type, required=d.required, options=list(d.options)
        )


@strawberry.type(description="A customer's value of one custom field.")
class CustomFieldValue:
    key: str = strawberry.field(description="Key of the custom field (see customFieldDefinitions).")
    type: CustomFieldType = strawberry.field(  # type: ignore[valid-type]
        description="The field's type, which tells how to read value."
    )
    value: JSON = strawberry.field(
        description="TEXT, SELECT: string; NUMBER: number; DATE: YYYY-MM-DD; BOOL: boolean; "
        "MULTI_SELECT: list of strings"
    )


@strawberry.enum(description="Why two customers look like the same company.")
class DuplicateReason(Enum):
    NAME = "NAME"
    PHONE = "PHONE"
    EMAIL = "EMAIL"


@strawberry.type(description="Province and city of the customer's registered address.")
class Region:
    province: str = strawberry.field(description="Canonical province name.")
    city: str | None = strawberry.field(description="City name; null if unknown.")


@strawberry.type(description="Company size.")
class CompanySize:
    employees: int | None = strawberry.field(description="Number of employees; null if unknown.")
    revenue_band: RevenueBand | None = strawberry.field(  # type: ignore[valid-type]
        description="Annual revenue band; null if unknown."
    )


@strawberry.type(description="Budget range in integer minor units (Int64 as decimal digits).")
class BudgetRange:
    min_minor: str = strawberry.field(
        description="Lower bound in integer minor units (fen for CNY), as decimal digits."
    )
    max_minor: str = strawberry.field(
        description="Upper bound in integer minor units, as decimal digits; never below minMinor."
    )
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. CNY.")


@strawberry.type(description="A WGS84 point for the map view.")
class GeoPoint:
    lat: float = strawberry.field(description="Latitude in degrees (-90 to 90).")
    lng: float = strawberry.field(description="Longitude in degrees (-180 to 180).")


@strawberry.type(description="A contact person (phone/email masked for analysts).")
class Contact:
    id: strawberry.ID = strawberry.field(
        description="Stable id of the contact within its customer."
    )
    name: str = strawberry.field(description="Full name of the contact person.")
    title: str | None = strawberry.field(description="Job title; null if not given.")
    decision_role: DecisionRole | None = strawberry.field(  # type: ignore[valid-type]
        description="Role in the buying decision; null if unknown."
    )
    phone: str | None = strawberry.field(
        description="Work phone; masked (e.g. 138****5678) for analysts; null if not given."
    )
    email: str | None = strawberry.field(
        description="Work email; masked for analysts; null if not given."
    )
    notes: str | None = strawberry.field(
        description="Free-text notes about the person; null if none."
    )
    is_primary: bool = strawberry.field(description="True for the customer's one primary contact.")
    owner_id: strawberry.ID | None = strawberry.field(
        description="User id of the sales rep responsible for this contact (the customer's "
        "owner unless another rep was named); null only on contacts stored before it existed."
    )

    @classmethod
    def from_model(cls, c: contact_model.Contact) -> Contact:
        return cls(
            id=strawberry.ID(c.id),
            name=c.name,
            title=c.title,
            decision_role=c.decision_role,
            phone=c.phone,
            email=c.email,
            notes=c.notes,
            is_primary=c.is_primary,
            owner_id=strawberry.ID(c.owner_id) if c.owner_id else None,
        )


@strawberry.type(description="One field-level change; before/after are JSON-encoded values.")
class HistoryEntry:
    at: datetime = strawberry.field(description="When the change was made (ISO 8601, UTC).")
    actor_id: str = strawberry.field(
        description="User id of who made the change (or the service, for automatic changes)."
    )
    field: str = strawberry.field(
        description="The changed profile field (e.g. name, status, contacts)."
    )
    before: str | None = strawberry.field(description="JSON of the old value (null if none)")
    after: str | None = strawberry.field(description="JSON of the new value (null if none)")
    reason: str | None = strawberry.field(
        description="The reason given with the change; null if none."
    )

    @classmethod
    def from_model(cls, h: model.HistoryEntry) -> HistoryEntry:
        def encode(value: Any) -> str | None:
            return None if value is None else json.dumps(value, ensure_ascii=False)

        return cls(
            at=h.at,
            actor_id=h.actor_id,
            field=h.field,
            before=encode(h.before),
            after=encode(h.after),
            reason=h.reason,
        )


@strawberry.type(description="The outcome of the review of a new customer.")
class Review:
    approved: bool = strawberry.field(
        description="True if approved (the customer became a LEAD), false if rejected."
    )
    comment: str | None = strawberry.field(
        description="The reviewer's comment; always present on a rejection."
    )
    actor_id: str = strawberry.field(description="User id of the reviewing sales manager.")
    at: datetime = strawberry.field(description="When the review was made (ISO 8601, UTC).")


@strawberry.federation.type(keys=["id"], description="A customer company: the unified profile.")
class Customer:
    id: strawberry.ID = strawberry.field(
        description="Stable id of the customer, shared by all services."
    )
    number: str = strawberry.field(
        description="CUS + yyyyMMdd + daily sequence, e.g. CUS20261123001"
    )
    name: str = strawberry.field(description="Company name.")
    status: CustomerStatus = strawberry.field(description="Review and lifecycle status.")  # type: ignore[valid-type]
    customer_type: CustomerType = strawberry.field(  # type: ignore[valid-type]
        description="Commercial relationship with the customer."
    )
    industry: str | None = strawberry.field(description="Industry, free text; null if unknown.")
    source: SourceChannel | None = strawberry.field(  # type: ignore[valid-type]
        description="How the customer found us; null if unknown."
    )
    region: Region | None = strawberry.field(description="Province and city; null if unknown.")
    address: str | None = strawberry.field(description="Registered address; null if unknown.")
    founded_on: date | None = strawberry.field(
        description="Founding date (YYYY-MM-DD); null if unknown."
    )
    size: CompanySize | None = strawberry.field(
        description="Employees and revenue band; null if unknown."
    )
    tags: list[str] = strawberry.field(description="Free labels, in the order given.")
    risk_tags: list[RiskTag] = strawberry.field(  # type: ignore[valid-type]
        description="Known risks of winning this customer; empty if none."
    )
    needs: str | None = strawberry.field(
        description="What the customer needs, free text; null if not recorded."
    )
    urgency: Urgency | None = strawberry.field(  # type: ignore[valid-type]
        description="How urgent the need is; null if unknown."
    )
    budget: BudgetRange | None = strawberry.field(
        description="Budget range in integer minor units; null if unknown."
    )
    geo: GeoPoint | None = strawberry.field(
        description="Location for the map view; null if not set."
    )
    owner_id: strawberry.ID = strawberry.field(
        description="User id of the sales rep who owns the customer."
    )
    team: str | None = strawberry.field(
        description="Sales team the customer belongs to; null if none."
    )
    contacts: list[Contact] = strawberry.field(
        description="Contact persons, the primary first; phone and email masked for analysts."
    )
    review: Review | None = strawberry.field(
        description="The outcome of the new-customer review; null while PENDING_REVIEW."
    )
    deleted_at: datetime | None = strawberry.field(
        description="When the customer was soft-deleted (ISO 8601, UTC); null if not deleted."
    )
    merged_into_id: strawberry.ID | None = strawberry.field(
        description="Set on a tombstone: the customer it was merged into"
    )
    created_at: datetime = strawberry.field(
        description="When the customer was registered (ISO 8601, UTC)."
    )
    updated_at: datetime = strawberry.field(
        description="When the customer last changed (ISO 8601, UTC)."
    )
    completeness: int = strawberry.field(
        description="Data completeness 0-100: the share of the key items present (industry, "
        "region, address, source, a primary contact with a phone, size); 100 = complete."
    )
    missing_items: list[CompletenessItem] = strawberry.field(  # type: ignore[valid-type]
        description="The key items still missing (待补充, to be completed); empty if complete."
    )
    value_tier: ValueTier = strawberry.field(  # type: ignore[valid-type]
        description="Value tier A/B/C from deal revenue and potential under the tenant's "
        "thresholds (valueTierThresholds); recomputed when either or the thresholds change."
    )
    deal_revenue_minor: str = strawberry.field(
        description="Deal revenue: the sum of the customer's accepted quotes, in integer minor "
        "units as a decimal string."
    )
    record: strawberry.Private[model.Customer]

    @strawberry.field(description="Values of the tenant's custom fields (set ones, by key).")
    async def custom_fields(self, info: strawberry.Info) -> list[CustomFieldValue]:
        from crm_customer.api.loaders import custom_field_definitions

        values = self.record.custom_fields
        if not values:
            return []
        definitions = await custom_field_definitions(info)
        return [
            CustomFieldValue(key=key, type=definitions[key].type, value=JSON(values[key]))
            for key in sorted(values)
            if key in definitions
        ]

    # The follow-up cadence and observation period (`api/cadence.py`).
    engagement_cadence: cadence_api.EngagementCadence = strawberry.field(  # type: ignore[valid-type]
        resolver=cadence_api.resolve_cadence,
        description=cadence_api.CADENCE_FIELD_DESCRIPTION,
    )
    observation: cadence_api.Observation | None = strawberry.field(
        resolver=cadence_api.resolve_observation,
        description=cadence_api.OBSERVATION_FIELD_DESCRIPTION,
    )
    cadence_history: list[cadence_api.CadenceChange] = strawberry.field(
        resolver=cadence_api.resolve_history,
        description=cadence_api.HISTORY_FIELD_DESCRIPTION,
    )

    @strawberry.field(
        description="The customer's files, newest first (as customerFiles: deleted ones only "
        "with includeDeleted)."
    )
    async def files(
        self,
        info: strawberry.Info,
        first: int | None = 20,
        after: str | None = None,
        include_deleted: bool = False,
    ) -> Connection[CustomerFile]:
        from crm_customer.api.context import principal_of, services_of

        page = await (
            services_of(info)
            .files(principal_of(info))
            .list_for_customer(
                self.record.id, PageRequest(first=first, after=after), include_deleted
            )
        )
        return to_connection(page, CustomerFile.from_model)

    @strawberry.field(description="The primary contact, if there are contacts.")
    def primary_contact(self) -> Contact | None:
        return next((c for c in self.contacts if c.is_primary), None)

    @strawberry.field(description="Field-level change history, newest first.")
    async def history(self, info: strawberry.Info, first: int = 50) -> list[HistoryEntry]:
        from crm_customer.api.context import principal_of, services_of

        if not 0 <= first <= 500:
            raise BadUserInput("first must be between 0 and 500", field="first")
        service = services_of(info).customers(principal_of(info))
        entries = await service.history(self.record)
        return [HistoryEntry.from_model(h) for h in reversed(entries)][:first]

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Customer | None:
        from crm_customer.api.loaders import customer_loader

        return await customer_loader(info).load(str(id))

    @classmethod
    def from_model(cls, m: model.Customer) -> Customer:
        p = m.profile
        return cls(
            id=strawberry.ID(m.id),
            number=m.number,
            name=p.name,
            status=m.status,
            customer_type=p.customer_type,
            industry=p.industry,
            source=p.source,
            region=Region(province=p.region.province, city=p.region.city) if p.region else None,
            address=p.address,
            founded_on=p.founded_on,
            size=CompanySize(employees=p.size.employees, revenue_band=p.size.revenue_band)
            if p.size
            else None,
            tags=list(p.tags),
            risk_tags=list(p.risk_tags),
            needs=p.needs,
            urgency=p.urgency,
            budget=BudgetRange(
                min_minor=str(p.budget.min_minor),
                max_minor=str(p.budget.max_minor),
                currency=p.budget.currency,
            )
            if p.budget
            else None,
            geo=GeoPoint(lat=p.geo.lat, lng=p.geo.lng) if p.geo else None,
            owner_id=strawberry.ID(m.owner_id),
            team=m.team,
            contacts=[Contact.from_model(c) for c in contact_model.primary_first(m.contacts)],
            review=Review(
                approved=m.review.approved,
                comment=m.review.comment,
                actor_id=m.review.actor_id,
                at=m.review.at,
            )
            if m.review
            else None,
            deleted_at=m.deleted_at,
            merged_into_id=strawberry.ID(m.merged_into) if m.merged_into else None,
            created_at=m.created_at,
            updated_at=m.updated_at,
            completeness=completeness_model.completeness(m),
            missing_items=list(completeness_model.missing_items(m)),
            value_tier=m.value_tier,
            deal_revenue_minor=str(m.deal_revenue_minor),
            record=m,
        )


@strawberry.input(description="Which customers to list; all given conditions must hold.")
class CustomerFilter:
    and_: list[CustomerFilter] | None = strawberry.field(
        default=None, name="and", description="All of these filters must hold."
    )
    or_: list[CustomerFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these filters must hold."
    )
    not_: CustomerFilter | None = strawberry.field(
        default=None, name="not", description="This filter must not hold."
    )
    id: IDFilter | None = strawberry.field(default=None, description="The customer id.")
    number: StringFilter | None = strawberry.field(
        default=None, description="The customer number (e.g. CUS20261123001)."
    )
    name: StringFilter | None = strawberry.field(default=None, description="The company name.")
    status: EnumFilter[model.CustomerStatus] | None = strawberry.field(
        default=None, description="The review and lifecycle status."
    )
    customer_type: EnumFilter[model.CustomerType] | None = strawberry.field(
        default=None, description="The commercial relationship."
    )
    industry: StringFilter | None = strawberry.field(default=None, description="The industry text.")
    source: EnumFilter[model.SourceChannel] | None = strawberry.field(
        default=None, description="How the customer found us."
    )
    province: StringFilter | None = strawberry.field(
        default=None,
        description="The province: `eq`, `neq` and `in` accept its Chinese (浙江省, 浙江), "
        "pinyin (zhejiang) or English name (Inner Mongolia); the others compare with the "
        "stored Chinese name.",
    )
    city: StringFilter | None = strawberry.field(default=None, description="The city name.")
    address: StringFilter | None = strawberry.field(
        default=None, description="The registered address."
    )
    founded_on: DateTimeFilter | None = strawberry.field(
        default=None, description="Founding date as midnight UTC"
    )
    employees: IntFilter | None = strawberry.field(
        default=None, description="The number of employees."
    )
    revenue_band: EnumFilter[model.RevenueBand] | None = strawberry.field(
        default=None, description="The annual revenue band."
    )
    urgency: EnumFilter[model.Urgency] | None = strawberry.field(
        default=None, description="The urgency of the need."
    )
    risk_tags: StringListFilter | None = strawberry.field(
        default=None, description="Risk tag names, e.g. BUDGET_SHORT"
    )
    needs: StringFilter | None = strawberry.field(default=None, description="The needs text.")
    budget_min_minor: IntFilter | None = strawberry.field(
        default=None, description="The budget's lower bound in integer minor units."
    )
    budget_max_minor: IntFilter | None = strawberry.field(
        default=None, description="The budget's upper bound in integer minor units."
    )
    budget_currency: StringFilter | None = strawberry.field(
        default=None, description="The budget's ISO 4217 currency code."
    )
    owner_id: IDFilter | None = strawberry.field(default=None, description="The owner's user id.")
    team: StringFilter | None = strawberry.field(default=None, description="The sales team.")
    tags: StringListFilter | None = strawberry.field(default=None, description="The free labels.")
    created_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When the customer was registered."
    )
    updated_at: DateTimeFilter | None = strawberry.field(
        default=None, description="When the customer last changed."
    )
    completeness: IntFilter | None = strawberry.field(
        default=None, description="Data completeness 0-100 (100 = nothing missing)."
    )
    incomplete: bool | None = strawberry.field(
        default=None,
        description="true: customers with items still missing (待补充, completeness below 100); "
        "false: complete ones.",
    )
    missing_items: StringListFilter | None = strawberry.field(
        default=None,
        description="Missing key items by CompletenessItem name, e.g. contains: ADDRESS.",
    )
    value_tier: EnumFilter[model.ValueTier] | None = strawberry.field(
        default=None, description="The value tier A/B/C."
    )
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=None,
        description="Conditions on custom fields, all of which must hold (top level only)",
    )
    engagement_cadence: cadence_api.EngagementCadence | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="The follow-up cadence; OBSERVATION lists the customers in the "
        "observation period (观察期). Top level only.",
    )


@strawberry.input(
    description="A condition on one custom field; values have the field's type (DATE as "
    "YYYY-MM-DD). gt/gte/lt/lte need a NUMBER or DATE field; on a MULTI_SELECT field eq and "
    "contains mean 'has this option', in means 'has any of these'."
)
class CustomFieldFilter:
    key: str = strawberry.field(description="Key of the custom field the condition is on.")
    eq: JSON | None = strawberry.field(
        default=None, description="Equal to this value (MULTI_SELECT: has this option)."
    )
    neq: JSON | None = strawberry.field(default=None, description="Not equal to this value.")
    in_: list[JSON] | None = strawberry.field(
        default=None,
        name="in",
        description="One of these values (MULTI_SELECT: has any of these options).",
    )
    gt: JSON | None = strawberry.field(
        default=None, description="Greater than this number or later than this date."
    )
    gte: JSON | None = strawberry.field(
        default=None, description="This number or date, or greater/later."
    )
    lt: JSON | None = strawberry.field(
        default=None, description="Less than this number or earlier than this date."
    )
    lte: JSON | None = strawberry.field(
        default=None, description="This number or date, or less/earlier."
    )
    contains: JSON | None = strawberry.field(
        default=None,
        description="TEXT: has this substring (case-insensitive); MULTI_SELECT: has this option.",
    )
    is_null: bool | None = strawberry.field(
        default=None,
        description="true: the customer has no value for the field; false: it has one.",
    )


def split_filter(
    filter_input: CustomerFilter | None,
) -> tuple[CustomerFilter | None, tuple[field_model.CustomFieldFilter, ...]]:
    """The filter without its custom field conditions, and those conditions as asked."""
    if filter_input is None:
        return None, ()

    def nested(f: CustomerFilter | None) -> bool:
        if f is None:
            return False
        return f.custom_fields is not None or any(
            nested(sub) for sub in (*(f.and_ or ()), *(f.or_ or ()), f.not_)
        )

    if any(nested(sub) for sub in (*(filter_input.and_ or ()), *(filter_input.or_ or ()))) or (
        nested(filter_input.not_)
    ):
        raise BadUserInput(
            "customFields conditions go at the top level of the filter", field="filter"
        )
    wanted = tuple(
        field_model.CustomFieldFilter(
            key=c.key,
            eq=c.eq,
            neq=c.neq,
            in_=c.in_,
            gt=c.gt,
            gte=c.gte,
            lt=c.lt,
            lte=c.lte,
            contains=c.contains,
            is_null=c.is_null,
        )
        for c in filter_input.custom_fields or ()
    )
    return expand_incomplete(dataclasses.replace(filter_input, custom_fields=None)), wanted


def expand_incomplete(f: CustomerFilter) -> CustomerFilter:
    """The filter with every ``incomplete`` condition as a condition on completeness."""
    nested = dataclasses.replace(
        f,
        and_=[expand_incomplete(sub) for sub in f.and_] if f.and_ is not None else None,
        or_=[expand_incomplete(sub) for sub in f.or_] if f.or_ is not None else None,
        not_=expand_incomplete(f.not_) if f.not_ is not None else None,
        incomplete=None,
    )
    if f.incomplete is None:
        return nested
    wanted = IntFilter(lt=100) if f.incomplete else IntFilter(eq=100)
    return dataclasses.replace(
        nested, and_=[*(nested.and_ or []), CustomerFilter(completeness=wanted)]
    )


class CustomerOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    NUMBER = "number"
    COMPLETENESS = "completeness"


strawberry.enum(
    CustomerOrderField,
    description="Fields customers can be ordered by. NAME orders by sound: Chinese names in "
    "pinyin order, interleaved with Latin names alphabetically.",
)


class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


strawberry.enum(
    OrderDirection,
    description="Sort direction: ASC smallest/oldest first, DESC largest/newest first.",
)


@strawberry.input(description="Ordering of a customer list (ties broken by id).")
class CustomerOrderBy:
    field: CustomerOrderField = strawberry.field(
        default=CustomerOrderField.CREATED_AT,
        description="What to order by; CREATED_AT if not given.",
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC, description="Ascending or descending; DESC if not given."
    )


@strawberry.input(description="Province (Chinese or pinyin name) and city.")
class RegionInput:
    province: str = strawberry.field(
        description="Province, Chinese or pinyin name; stored under its canonical name."
    )
    city: str | None = strawberry.field(default=None, description="City name.")


@strawberry.input(description="Company size.")
class CompanySizeInput:
    employees: int | None = strawberry.field(
        default=None, description="Number of employees (0 to 10,000,000); null if unknown."
    )
    revenue_band: RevenueBand | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Annual revenue band; null if unknown."
    )


@strawberry.input(description="Budget range in integer minor units (decimal digits).")
class BudgetRangeInput:
    min_minor: str = strawberry.field(
        description="Lower bound in integer minor units (fen for CNY), as decimal digits."
    )
    max_minor: str = strawberry.field(
        description="Upper bound in integer minor units, as decimal digits; at least minMinor."
    )
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. CNY.")


@strawberry.input(description="A WGS84 point.")
class GeoPointInput:
    lat: float = strawberry.field(description="Latitude in degrees (-90 to 90).")
    lng: float = strawberry.field(description="Longitude in degrees (-180 to 180).")


@strawberry.input(description="A contact person; work phone and email are validated.")
class ContactInput:
    name: str = strawberry.field(
        description="Full name of the contact person (required, not blank)."
    )
    title: str | None = strawberry.field(default=None, description="Job title.")
    decision_role: DecisionRole | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Role in the buying decision."
    )
    phone: str | None = strawberry.field(
        default=None,
        description="Work phone (mainland mobile or landline); validated and normalised.",
    )
    email: str | None = strawberry.field(default=None, description="Work email; validated.")
    notes: str | None = strawberry.field(
        default=None, description="Free-text notes about the person."
    )
    is_primary: bool = strawberry.field(
        default=False, description="Make this the primary contact (the first contact always is)."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="User id of the sales rep responsible for the contact; the customer's "
        "owner if not given. A sales rep may name only themself or the customer's owner.",
    )


@strawberry.input(description="The value of one custom field; null clears it.")
class CustomFieldValueInput:
    key: str = strawberry.field(description="Key of a custom field defined for the tenant.")
    value: JSON | None = strawberry.field(
        default=None, description="Of the field's type (DATE as YYYY-MM-DD); null clears"
    )


def custom_field_values(
    given: list[CustomFieldValueInput] | Any | None,
) -> dict[str, Any] | None:
    """Custom field values by key (None if not given); a key given twice is refused."""
    if given is None or given is strawberry.UNSET:
        return None
    values: dict[str, Any] = {}
    for item in given:
        if item.key in values:
            raise BadUserInput(
                f"custom field {item.key} is given twice", field=f"input.customFields.{item.key}"
            )
        values[item.key] = item.value
    return values


@strawberry.input(description="Define a custom field, or change its label/options/required.")
class DefineCustomFieldInput:
    key: str = strawberry.field(description="a-z, 0-9 and _, starting with a letter; at most 40")
    label: str = strawberry.field(description="Name shown to users (required, not blank).")
    type: CustomFieldType = strawberry.field(  # type: ignore[valid-type]
        description="Type of the values; cannot change once the field exists."
    )
    required: bool = strawberry.field(
        default=False,
        description="Every new or changed customer must have a value; false if not given.",
    )
    options: list[str] = strawberry.field(
        default_factory=list, description="Required for SELECT and MULTI_SELECT"
    )


@strawberry.type(description="The custom field as now defined.")
class DefineCustomFieldPayload:
    definition: CustomFieldDefinition = strawberry.field(
        description="The stored definition of the field."
    )


@strawberry.input(description="A new customer; it starts in PENDING_REVIEW.")
class CreateCustomerInput:
    name: str = strawberry.field(description="Company name (required, at most 200 characters).")
    industry: str | None = strawberry.field(
        default=None, description="Industry, free text (e.g. Manufacturing)."
    )
    customer_type: CustomerType = strawberry.field(  # type: ignore[valid-type]
        default=model.CustomerType.POTENTIAL,
        description="Commercial relationship; POTENTIAL if not given.",
    )
    source: SourceChannel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="How the customer found us."
    )
    region: RegionInput | None = strawberry.field(
        default=None,
        description="Province and city; the province is normalised to its canonical name.",
    )
    address: str | None = strawberry.field(
        default=None, description="Registered address (at most 500 characters)."
    )
    founded_on: date | None = strawberry.field(
        default=None, description="Founding date, ISO 8601 (YYYY-MM-DD); not in the future."
    )
    size: CompanySizeInput | None = strawberry.field(
        default=None, description="Employees and revenue band."
    )
    tags: list[str] = strawberry.field(
        default_factory=list, description="Free labels (at most 30, each at most 50 characters)."
    )
    risk_tags: list[RiskTag] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="Known risks of winning this customer."
    )
    needs: str | None = strawberry.field(
        default=None, description="What the customer needs, free text (at most 4000 characters)."
    )
    urgency: Urgency | None = strawberry.field(default=None, description="How urgent the need is.")  # type: ignore[valid-type]
    budget: BudgetRangeInput | None = strawberry.field(
        default=None, description="Budget range in integer minor units."
    )
    geo: GeoPointInput | None = strawberry.field(
        default=None, description="Location for the map view (WGS84)."
    )
    contacts: list[ContactInput] = strawberry.field(
        default_factory=list,
        description="Contact persons; the first (or the one marked isPrimary) is primary.",
    )
    custom_fields: list[CustomFieldValueInput] = strawberry.field(
        default_factory=list,
        description="Values of the tenant's custom fields; required ones must be given.",
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the caller"
    )
    team: str | None = strawberry.field(
        default=None, description="Admins only; others create in their own team"
    )


@strawberry.input(description="Profile fields to change; a field given as null is cleared.")
class UpdateCustomerInput:
    id: strawberry.ID = strawberry.field(description="Id of the customer to change.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="New company name; cannot be null."
    )
    industry: str | None = strawberry.field(
        default=strawberry.UNSET, description="New industry; null clears."
    )
    customer_type: CustomerType | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET,
        description="New commercial relationship; null resets it to POTENTIAL.",
    )
    source: SourceChannel | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="New source channel; null clears."
    )
    region: RegionInput | None = strawberry.field(
        default=strawberry.UNSET, description="New province and city; null clears."
    )
    address: str | None = strawberry.field(
        default=strawberry.UNSET, description="New address; null clears."
    )
    founded_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="New founding date (YYYY-MM-DD); null clears."
    )
    size: CompanySizeInput | None = strawberry.field(
        default=strawberry.UNSET, description="New size; null clears."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The full new list of labels; null or [] clears."
    )
    risk_tags: list[RiskTag] | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="The full new list of risk tags; null or [] clears."
    )
    needs: str | None = strawberry.field(
        default=strawberry.UNSET, description="New needs text; null clears."
    )
    urgency: Urgency | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="New urgency; null clears."
    )
    budget: BudgetRangeInput | None = strawberry.field(
        default=strawberry.UNSET, description="New budget range; null clears."
    )
    geo: GeoPointInput | None = strawberry.field(
        default=strawberry.UNSET, description="New map location; null clears."
    )
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Only the given keys change; a null value clears"
    )


@strawberry.input(description="Approve or reject a customer waiting for review.")
class ReviewCustomerInput:
    id: strawberry.ID = strawberry.field(description="Id of the customer waiting for review.")
    comment: str | None = strawberry.field(default=None, description="Required to reject")


@strawberry.input(description="Move the customer along its lifecycle.")
class ChangeCustomerStatusInput:
    id: strawberry.ID = strawberry.field(description="Id of the customer to move.")
    status: CustomerStatus = strawberry.field(  # type: ignore[valid-type]
        description="The target lifecycle status; only the allowed moves are accepted."
    )
    reason: str | None = strawberry.field(
        default=None,
        description="Why the status changes; kept in the history (at most 1000 characters).",
    )


@strawberry.input(description="Give the customer another owner and/or team.")
class AssignCustomerOwnerInput:
    id: strawberry.ID = strawberry.field(description="Id of the customer to reassign.")
    owner_id: strawberry.ID = strawberry.field(
        description="User id of the new owner (a sales rep)."
    )
    team: str | None = strawberry.field(default=None, description="Defaults to the current team")
    reason: str | None = strawberry.field(
        default=None,
        description="Why the owner changes; kept in the history (at most 1000 characters).",
    )


@strawberry.input(description="Add a contact person.")
class AddContactInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer that gets the contact."
    )
    contact: ContactInput = strawberry.field(description="The new contact person.")


@strawberry.input(description="Change a contact; isPrimary true makes it the only primary.")
class UpdateContactInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer the contact belongs to."
    )
    contact_id: strawberry.ID = strawberry.field(description="Id of the contact to change.")
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description="New full name; not blank; omit to keep."
    )
    title: str | None = strawberry.field(
        default=strawberry.UNSET, description="New job title; null clears, omit to keep."
    )
    decision_role: DecisionRole | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="New decision role; null clears, omit to keep."
    )
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="New work phone (validated); null clears, omit to keep.",
    )
    email: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="New work email (validated); null clears, omit to keep.",
    )
    notes: str | None = strawberry.field(
        default=strawberry.UNSET, description="New notes; null clears, omit to keep."
    )
    is_primary: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="true makes this the only primary contact; omit to keep.",
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="New responsible sales rep; null resets it to the customer's owner, omit "
        "to keep.",
    )


@strawberry.input(description="Remove a contact person.")
class RemoveContactInput:
    customer_id: strawberry.ID = strawberry.field(
        description="Id of the customer the contact belongs to."
    )
    contact_id: strawberry.ID = strawberry.field(description="Id of the contact to remove.")


@strawberry.input(description="Soft-delete a customer (restorable).")
class DeleteCustomerInput:
    id: strawberry.ID = strawberry.field(description="Id of the customer to soft-delete.")
    reason: str | None = strawberry.field(
        default=None,
        description="Why it is deleted; kept in the history (at most 1000 characters).",
    )


@strawberry.input(description="Restore a soft-deleted customer.")
class RestoreCustomerInput:
    id: strawberry.ID = strawberry.field(description="Id of the soft-deleted customer to restore.")


@strawberry.input(description="Merge mergeId into keepId; mergeId becomes a tombstone.")
class MergeCustomersInput:
    keep_id: strawberry.ID = strawberry.field(
        description="Id of the customer that stays and receives the other's data."
    )
    merge_id: strawberry.ID = strawberry.field(
        description="Id of the customer that becomes a tombstone pointing at keepId."
    )


@strawberry.input(description="A map rectangle in degrees (west > east crosses 180°).")
class BoundingBoxInput:
    south: float = strawberry.field(description="Southern edge, latitude in degrees (-90 to 90).")
    west: float = strawberry.field(description="Western edge, longitude in degrees (-180 to 180).")
    north: float = strawberry.field(description="Northern edge, latitude in degrees (-90 to 90).")
    east: float = strawberry.field(description="Eastern edge, longitude in degrees (-180 to 180).")


@strawberry.type(description="The customer just registered, waiting for review.")
class CreateCustomerPayload:
    customer: Customer = strawberry.field(
        description="The new customer, in status PENDING_REVIEW, with its number."
    )


@strawberry.type(description="The customer after the change.")
class CustomerPayload:
    customer: Customer = strawberry.field(description="The customer as stored after the change.")


@strawberry.type(description="The customer after adding a contact, and the contact as stored.")
class AddContactPayload:
    customer: Customer = strawberry.field(description="The customer with its updated contact list.")
    contact: Contact = strawberry.field(description="The new contact, with its generated id.")


@strawberry.type(description="A customer that may be the same company, and why.")
class DuplicateCandidate:
    customer: Customer = strawberry.field(description="The customer that may be the same company.")
    reasons: list[DuplicateReason] = strawberry.field(
        description="Which normalised values match (name, phone, email)."
    )


@strawberry.type(description="How many customers one province (and city) has.")
class RegionCount:
    province: str | None = strawberry.field(
        description="Canonical province name; null for customers without a region."
    )
    city: str | None = strawberry.field(
        description="City name; null when not counted per city or unknown."
    )
    count: int = strawberry.field(description="How many of your visible customers are there.")


# --- input conversion ---------------------------------------------------------------------


def _minor(value: str, field: str) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit() or len(text) > 19:
        raise BadUserInput("amounts are integer minor units (digits)", field=field)
    return int(text)


def profile_values(source: Any) -> dict[str, Any]:
    """Domain values of the profile fields given in a create or update input."""
    values: dict[str, Any] = {}
    for name in model.PROFILE_FIELDS:
        raw = getattr(source, name, strawberry.UNSET)
        if raw is strawberry.UNSET:
            continue
        match name:
            case "region":
                raw = model.Region(raw.province, raw.city) if raw else None
            case "size":
                raw = model.CompanySize(raw.employees, raw.revenue_band) if raw else None
            case "budget":
                raw = (
                    model.BudgetRange(
                        _minor(raw.min_minor, "input.budget.minMinor"),
                        _minor(raw.max_minor, "input.budget.maxMinor"),
                        raw.currency,
                    )
                    if raw
                    else None
                )
            case "geo":
                raw = model.GeoPoint(raw.lat, raw.lng) if raw else None
            case "tags" | "risk_tags":
                raw = tuple(raw or ())
        values[name] = raw
    return values


def contact_from_input(source: ContactInput) -> contact_model.Contact:
    return contact_model.Contact(
        id="",
        name=source.name,
        title=source.title,
        decision_role=source.decision_role,
        phone=source.phone,
        email=source.email,
        notes=source.notes,
        is_primary=source.is_primary,
        owner_id=str(source.owner_id) if source.owner_id else None,
    )


# --- import and export --------------------------------------------------------------------

ImportField = strawberry.enum(importing.ImportField, description="A profile field to import.")
TableFormat = strawberry.enum(tables.TableFormat, description="Spreadsheet format.")


@strawberry.input(description="Which column of the file fills which field.")
class ColumnMappingInput:
    column: str = strawberry.field(
        description="Header text of the column in the file, as written there."
    )
    field: ImportField | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The profile field the column fills (or give customField)."
    )
    custom_field: str | None = strawberry.field(
        default=None,
        description="Key of the custom field the column fills, instead of a profile field. "
        "Cells are read as the field's type (numbers, YYYY-MM-DD, true/false/yes/no, "
        "options separated by ';' for multi-select); empty cells leave the field unset.",
    )


@strawberry.input(
    description="Import customers from a file uploaded with POST /files?kind=IMPORT. Without "
    "a mapping, columns whose header names a field (e.g. 'name', 'contact_phone') are used."
)
class ImportCustomersInput:
    file_id: strawberry.ID = strawberry.field(description="Id returned by POST /files?kind=IMPORT.")
    format: TableFormat = strawberry.field(description="Format of the uploaded file.")  # type: ignore[valid-type]
    mapping: list[ColumnMappingInput] | None = strawberry.field(
        default=None,
        description="Which column fills which field; null to match columns by header name.",
    )
    dry_run: bool = strawberry.field(
        default=True, description="Only report what would happen (per-row errors, duplicates)"
    )
    update_existing: bool = strawberry.field(
        default=False, description="Rows matching an existing customer update it"
    )


@strawberry.type(description="A problem with one row (rows count from 1 after the header).")
class ImportRowError:
    row: int = strawberry.field(
        description="Row number in the file, 1 being the first row after the header."
    )
    field: str = strawberry.field(
        description="The field with the problem (e.g. name, contactPhone)."
    )
    message: str = strawberry.field(description="What is wrong, for people.")


@strawberry.type(description="A background import and its progress.")
class ImportJob:
    id: strawberry.ID = strawberry.field(
        description="Id of the job; poll it with the importJob query."
    )
    status: str = strawberry.field(description="RUNNING, DONE or FAILED")
    total: int = strawberry.field(description="How many data rows the file has.")
    processed: int = strawberry.field(description="How many rows are handled so far.")
    created: int = strawberry.field(description="How many customers were created.")
    updated: int = strawberry.field(
        description="How many existing customers were updated (updateExisting only)."
    )
    duplicates: int = strawberry.field(
        description="How many rows were skipped as duplicates of existing customers."
    )
    failed: int = strawberry.field(description="How many rows failed validation and were skipped.")
    errors: list[ImportRowError] = strawberry.field(
        description="Problems per row (the first ones)."
    )

    @classmethod
    def from_model(cls, job: Any) -> ImportJob:
        return cls(
            id=strawberry.ID(job.id),
            status=job.status,
            total=job.total,
            processed=job.processed,
            created=job.created,
            updated=job.updated,
            duplicates=job.duplicates,
            failed=job.failed,
            errors=[
                ImportRowError(row=e["row"], field=e["field"], message=e["message"])
                for e in job.errors
            ],
        )


@strawberry.type(description="A dry run (report only) or a started job.")
class ImportCustomersPayload:
    dry_run: bool = strawberry.field(description="True if nothing was stored (report only).")
    total: int = strawberry.field(description="How many data rows the file has.")
    valid: int = strawberry.field(description="How many rows passed validation.")
    duplicates: int = strawberry.field(description="How many rows match an existing customer.")
    errors: list[ImportRowError] = strawberry.field(
        description="Problems per row; those rows are skipped."
    )
    job: ImportJob | None = strawberry.field(
        description="The started background import; null for a dry run."
    )


@strawberry.type(description="An export file: download it with GET /files/<fileId>.")
class ExportCustomersPayload:
    file_id: strawberry.ID = strawberry.field(description="Id of the generated file.")
    download_path: str = strawberry.field(
        description="Path to GET the file from (with your bearer token), e.g. /files/<fileId>."
    )
    download_url: str = strawberry.field(
        description="The full address to GET the file from (with your bearer token), through "
        "the gateway's public address (PUBLIC_BASE_URL)."
    )
    filename: str = strawberry.field(description="Suggested file name for saving, with extension.")
    rows: int = strawberry.field(
        description="How many customers the file holds (excluding the header)."
    )


# --- files, value tiers ---------------------------------------------------------------------


@strawberry.type(description="One change to a customer's file: who did what, when.")
class FileChange:
    at: datetime = strawberry.field(description="When the change was made (ISO 8601, UTC).")
    actor_id: str = strawberry.field(description="User id of who made the change.")
    action: FileAction = strawberry.field(description="What was done.")  # type: ignore[valid-type]
    before: str | None = strawberry.field(
        description="The name (RENAMED) or kind (RECATEGORISED) before; the name for DELETED "
        "and PURGED."
    )
    after: str | None = strawberry.field(description="The name or kind after; null for DELETED.")


@strawberry.type(description="A file stored on a customer (download: GET /files/<id>).")
class CustomerFile:
    id: strawberry.ID = strawberry.field(description="Id of the file (GET /files/<id>).")
    customer_id: strawberry.ID = strawberry.field(description="The customer it belongs to.")
    filename: str = strawberry.field(description="The file's current name.")
    kind: FileKind = strawberry.field(description="Its category.")  # type: ignore[valid-type]
    content_type: str = strawberry.field(description="MIME type of the bytes.")
    size: int = strawberry.field(description="Size in bytes.")
    uploaded_by: str = strawberry.field(description="User id of who uploaded it.")
    uploaded_at: datetime = strawberry.field(description="When it was uploaded (ISO 8601, UTC).")
    deleted_at: datetime | None = strawberry.field(
        description="When it was deleted (soft delete); null if it was not."
    )
    content_purged_at: datetime | None = strawberry.field(
        description="When the deleted file's bytes were purged (after the retention period, "
        "30 days by default); its name, size and history stay. Null while they are kept."
    )
    download_path: str = strawberry.field(description="Path to download it through the gateway.")
    history: list[FileChange] = strawberry.field(
        description="Renames, recategorisations, the deletion and the purge of its bytes, "
        "oldest first."
    )

    @classmethod
    def from_model(cls, f: file_model.StoredFile) -> CustomerFile:
        return cls(
            id=strawberry.ID(f.id),
            customer_id=strawberry.ID(f.customer_id or ""),
            filename=f.filename,
            kind=f.kind,
            content_type=f.content_type,
            size=f.size,
            uploaded_by=f.uploaded_by,
            uploaded_at=f.uploaded_at,
            deleted_at=f.deleted_at,
            content_purged_at=f.purged_at,
            download_path=f"/files/{f.id}",
            history=[
                FileChange(
                    at=h.at, actor_id=h.actor_id, action=h.action, before=h.before, after=h.after
                )
                for h in f.history
            ],
        )


@strawberry.input(description="Rename a customer's file.")
class RenameCustomerFileInput:
    id: strawberry.ID = strawberry.field(description="Id of the file.")
    filename: str = strawberry.field(
        description="The new name: 1 to 200 characters without '/' or backslash."
    )


@strawberry.input(description="Move a customer's file to another category.")
class CategoriseCustomerFileInput:
    id: strawberry.ID = strawberry.field(description="Id of the file.")
    kind: FileKind = strawberry.field(  # type: ignore[valid-type]
        description="QUALIFICATION, CONTRACT, PROPOSAL, DELIVERABLE or OTHER."
    )


@strawberry.input(description="Delete a customer's file (soft: its history stays).")
class DeleteCustomerFileInput:
    id: strawberry.ID = strawberry.field(description="Id of the file.")


@strawberry.type(description="The file after the change.")
class CustomerFilePayload:
    file: CustomerFile = strawberry.field(description="The file as stored after the change.")


@strawberry.type(
    description="The tenant's value tier thresholds in integer minor units (decimal strings): "
    "A if deal revenue or potential (budget maximum) reaches the A threshold, else B if "
    "either reaches the B one, else C."
)
class ValueTierThresholds:
    a_revenue_minor: str = strawberry.field(description="Deal revenue that makes a customer A.")
    a_potential_minor: str = strawberry.field(description="Potential that makes a customer A.")
    b_revenue_minor: str = strawberry.field(description="Deal revenue that makes a customer B.")
    b_potential_minor: str = strawberry.field(description="Potential that makes a customer B.")

    @classmethod
    def from_model(cls, t: tier_model.TierThresholds) -> ValueTierThresholds:
        return cls(
            a_revenue_minor=str(t.a_revenue_minor),
            a_potential_minor=str(t.a_potential_minor),
            b_revenue_minor=str(t.b_revenue_minor),
            b_potential_minor=str(t.b_potential_minor),
        )


@strawberry.input(description="New value tier thresholds (integer minor units as strings).")
class SetValueTierThresholdsInput:
    a_revenue_minor: str = strawberry.field(description="Deal revenue that makes a customer A.")
    a_potential_minor: str = strawberry.field(description="Potential that makes a customer A.")
    b_revenue_minor: str = strawberry.field(
        description="Deal revenue that makes a customer B (not above the A one)."
    )
    b_potential_minor: str = strawberry.field(
        description="Potential that makes a customer B (not above the A one)."
    )

    def to_model(self) -> tier_model.TierThresholds:
        return tier_model.TierThresholds(
            a_revenue_minor=_minor(self.a_revenue_minor, "input.aRevenueMinor"),
            a_potential_minor=_minor(self.a_potential_minor, "input.aPotentialMinor"),
            b_revenue_minor=_minor(self.b_revenue_minor, "input.bRevenueMinor"),
            b_potential_minor=_minor(self.b_potential_minor, "input.bPotentialMinor"),
        )


@strawberry.type(description="The thresholds as stored, and how many customers changed tier.")
class SetValueTierThresholdsPayload:
    thresholds: ValueTierThresholds = strawberry.field(description="The thresholds now in force.")
    retiered: int = strawberry.field(
        description="How many customers moved to another tier (each with its event)."
    )
