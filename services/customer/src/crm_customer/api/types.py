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
from crm_customer.domain import contacts as contact_model
from crm_customer.domain import custom_fields as field_model
from crm_customer.domain import customer as model
from crm_customer.domain import importing
from crm_customer.service import tables

CustomerStatus = strawberry.enum(
    model.CustomerStatus, description="Where the customer is in review and lifecycle."
)
CustomerType = strawberry.enum(
    model.CustomerType, description="Commercial relationship with the customer."
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
    key: str
    label: str
    type: CustomFieldType  # type: ignore[valid-type]
    required: bool
    options: list[str] = strawberry.field(description="The choices of a (multi-)select field")

    @classmethod
    def from_model(cls, d: field_model.CustomFieldDefinition) -> CustomFieldDefinition:
        return cls(
            key=d.key, label=d.label, type=d.type, required=d.required, options=list(d.options)
        )


@strawberry.type(description="A customer's value of one custom field.")
class CustomFieldValue:
    key: str
    type: CustomFieldType  # type: ignore[valid-type]
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
    province: str
    city: str | None


@strawberry.type(description="Company size.")
class CompanySize:
    employees: int | None
    revenue_band: RevenueBand | None  # type: ignore[valid-type]


@strawberry.type(description="Budget range in integer minor units (Int64 as decimal digits).")
class BudgetRange:
    min_minor: str
    max_minor: str
    currency: str


@strawberry.type(description="A WGS84 point for the map view.")
class GeoPoint:
    lat: float
    lng: float


@strawberry.type(description="A contact person (phone/email masked for analysts).")
class Contact:
    id: strawberry.ID
    name: str
    title: str | None
    decision_role: DecisionRole | None  # type: ignore[valid-type]
    phone: str | None
    email: str | None
    notes: str | None
    is_primary: bool

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
        )


@strawberry.type(description="One field-level change; before/after are JSON-encoded values.")
class HistoryEntry:
    at: datetime
    actor_id: str
    field: str
    before: str | None = strawberry.field(description="JSON of the old value (null if none)")
    after: str | None = strawberry.field(description="JSON of the new value (null if none)")
    reason: str | None

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
    approved: bool
    comment: str | None
    actor_id: str
    at: datetime


@strawberry.federation.type(keys=["id"], description="A customer company: the unified profile.")
class Customer:
    id: strawberry.ID
    number: str = strawberry.field(
        description="CUS + yyyyMMdd + daily sequence, e.g. CUS20261123001"
    )
    name: str
    status: CustomerStatus  # type: ignore[valid-type]
    customer_type: CustomerType  # type: ignore[valid-type]
    industry: str | None
    source: SourceChannel | None  # type: ignore[valid-type]
    region: Region | None
    address: str | None
    founded_on: date | None
    size: CompanySize | None
    tags: list[str]
    risk_tags: list[RiskTag]  # type: ignore[valid-type]
    needs: str | None
    urgency: Urgency | None  # type: ignore[valid-type]
    budget: BudgetRange | None
    geo: GeoPoint | None
    owner_id: strawberry.ID
    team: str | None
    contacts: list[Contact]
    review: Review | None
    deleted_at: datetime | None
    merged_into_id: strawberry.ID | None = strawberry.field(
        description="Set on a tombstone: the customer it was merged into"
    )
    created_at: datetime
    updated_at: datetime
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
            contacts=[Contact.from_model(c) for c in m.contacts],
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
            record=m,
        )


@strawberry.input(description="Which customers to list; all given conditions must hold.")
class CustomerFilter:
    and_: list[CustomerFilter] | None = strawberry.field(default=None, name="and")
    or_: list[CustomerFilter] | None = strawberry.field(default=None, name="or")
    not_: CustomerFilter | None = strawberry.field(default=None, name="not")
    id: IDFilter | None = None
    number: StringFilter | None = None
    name: StringFilter | None = None
    status: EnumFilter[model.CustomerStatus] | None = None
    customer_type: EnumFilter[model.CustomerType] | None = None
    industry: StringFilter | None = None
    source: EnumFilter[model.SourceChannel] | None = None
    province: StringFilter | None = None
    city: StringFilter | None = None
    address: StringFilter | None = None
    founded_on: DateTimeFilter | None = strawberry.field(
        default=None, description="Founding date as midnight UTC"
    )
    employees: IntFilter | None = None
    revenue_band: EnumFilter[model.RevenueBand] | None = None
    urgency: EnumFilter[model.Urgency] | None = None
    risk_tags: StringListFilter | None = strawberry.field(
        default=None, description="Risk tag names, e.g. BUDGET_SHORT"
    )
    needs: StringFilter | None = None
    budget_min_minor: IntFilter | None = None
    budget_max_minor: IntFilter | None = None
    budget_currency: StringFilter | None = None
    owner_id: IDFilter | None = None
    team: StringFilter | None = None
    tags: StringListFilter | None = None
    created_at: DateTimeFilter | None = None
    updated_at: DateTimeFilter | None = None
    custom_fields: list[CustomFieldFilter] | None = strawberry.field(
        default=None,
        description="Conditions on custom fields, all of which must hold (top level only)",
    )


@strawberry.input(
    description="A condition on one custom field; values have the field's type (DATE as "
    "YYYY-MM-DD). gt/gte/lt/lte need a NUMBER or DATE field; on a MULTI_SELECT field eq and "
    "contains mean 'has this option', in means 'has any of these'."
)
class CustomFieldFilter:
    key: str
    eq: JSON | None = None
    neq: JSON | None = None
    in_: list[JSON] | None = strawberry.field(default=None, name="in")
    gt: JSON | None = None
    gte: JSON | None = None
    lt: JSON | None = None
    lte: JSON | None = None
    contains: JSON | None = None
    is_null: bool | None = None


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
    return dataclasses.replace(filter_input, custom_fields=None), wanted


class CustomerOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    NUMBER = "number"


strawberry.enum(CustomerOrderField, description="Fields customers can be ordered by.")


class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


strawberry.enum(OrderDirection)


@strawberry.input(description="Ordering of a customer list (ties broken by id).")
class CustomerOrderBy:
    field: CustomerOrderField = CustomerOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


@strawberry.input(description="Province (Chinese or pinyin name) and city.")
class RegionInput:
    province: str
    city: str | None = None


@strawberry.input(description="Company size.")
class CompanySizeInput:
    employees: int | None = None
    revenue_band: RevenueBand | None = None  # type: ignore[valid-type]


@strawberry.input(description="Budget range in integer minor units (decimal digits).")
class BudgetRangeInput:
    min_minor: str
    max_minor: str
    currency: str


@strawberry.input(description="A WGS84 point.")
class GeoPointInput:
    lat: float
    lng: float


@strawberry.input(description="A contact person; work phone and email are validated.")
class ContactInput:
    name: str
    title: str | None = None
    decision_role: DecisionRole | None = None  # type: ignore[valid-type]
    phone: str | None = None
    email: str | None = None
    notes: str | None = None
    is_primary: bool = False


@strawberry.input(description="The value of one custom field; null clears it.")
class CustomFieldValueInput:
    key: str
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
    label: str
    type: CustomFieldType  # type: ignore[valid-type]
    required: bool = False
    options: list[str] = strawberry.field(
        default_factory=list, description="Required for SELECT and MULTI_SELECT"
    )


@strawberry.type
class DefineCustomFieldPayload:
    definition: CustomFieldDefinition


@strawberry.input(description="A new customer; it starts in PENDING_REVIEW.")
class CreateCustomerInput:
    name: str
    industry: str | None = None
    customer_type: CustomerType = model.CustomerType.POTENTIAL  # type: ignore[valid-type]
    source: SourceChannel | None = None  # type: ignore[valid-type]
    region: RegionInput | None = None
    address: str | None = None
    founded_on: date | None = None
    size: CompanySizeInput | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    risk_tags: list[RiskTag] = strawberry.field(default_factory=list)  # type: ignore[valid-type]
    needs: str | None = None
    urgency: Urgency | None = None  # type: ignore[valid-type]
    budget: BudgetRangeInput | None = None
    geo: GeoPointInput | None = None
    contacts: list[ContactInput] = strawberry.field(default_factory=list)
    custom_fields: list[CustomFieldValueInput] = strawberry.field(default_factory=list)
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the caller"
    )
    team: str | None = strawberry.field(
        default=None, description="Admins only; others create in their own team"
    )


@strawberry.input(description="Profile fields to change; a field given as null is cleared.")
class UpdateCustomerInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    customer_type: CustomerType | None = strawberry.UNSET  # type: ignore[valid-type]
    source: SourceChannel | None = strawberry.UNSET  # type: ignore[valid-type]
    region: RegionInput | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    founded_on: date | None = strawberry.UNSET
    size: CompanySizeInput | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    risk_tags: list[RiskTag] | None = strawberry.UNSET  # type: ignore[valid-type]
    needs: str | None = strawberry.UNSET
    urgency: Urgency | None = strawberry.UNSET  # type: ignore[valid-type]
    budget: BudgetRangeInput | None = strawberry.UNSET
    geo: GeoPointInput | None = strawberry.UNSET
    custom_fields: list[CustomFieldValueInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Only the given keys change; a null value clears"
    )


@strawberry.input(description="Approve or reject a customer waiting for review.")
class ReviewCustomerInput:
    id: strawberry.ID
    comment: str | None = strawberry.field(default=None, description="Required to reject")


@strawberry.input(description="Move the customer along its lifecycle.")
class ChangeCustomerStatusInput:
    id: strawberry.ID
    status: CustomerStatus  # type: ignore[valid-type]
    reason: str | None = None


@strawberry.input(description="Give the customer another owner and/or team.")
class AssignCustomerOwnerInput:
    id: strawberry.ID
    owner_id: strawberry.ID
    team: str | None = strawberry.field(default=None, description="Defaults to the current team")
    reason: str | None = None


@strawberry.input(description="Add a contact person.")
class AddContactInput:
    customer_id: strawberry.ID
    contact: ContactInput


@strawberry.input(description="Change a contact; isPrimary true makes it the only primary.")
class UpdateContactInput:
    customer_id: strawberry.ID
    contact_id: strawberry.ID
    name: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    decision_role: DecisionRole | None = strawberry.UNSET  # type: ignore[valid-type]
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    is_primary: bool | None = strawberry.UNSET


@strawberry.input(description="Remove a contact person.")
class RemoveContactInput:
    customer_id: strawberry.ID
    contact_id: strawberry.ID


@strawberry.input(description="Soft-delete a customer (restorable).")
class DeleteCustomerInput:
    id: strawberry.ID
    reason: str | None = None


@strawberry.input(description="Restore a soft-deleted customer.")
class RestoreCustomerInput:
    id: strawberry.ID


@strawberry.input(description="Merge mergeId into keepId; mergeId becomes a tombstone.")
class MergeCustomersInput:
    keep_id: strawberry.ID
    merge_id: strawberry.ID


@strawberry.input(description="A map rectangle in degrees (west > east crosses 180°).")
class BoundingBoxInput:
    south: float
    west: float
    north: float
    east: float


@strawberry.type
class CreateCustomerPayload:
    customer: Customer


@strawberry.type(description="The customer after the change.")
class CustomerPayload:
    customer: Customer


@strawberry.type
class AddContactPayload:
    customer: Customer
    contact: Contact


@strawberry.type(description="A customer that may be the same company, and why.")
class DuplicateCandidate:
    customer: Customer
    reasons: list[DuplicateReason]


@strawberry.type(description="How many customers one province (and city) has.")
class RegionCount:
    province: str | None
    city: str | None
    count: int


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
    )


# --- import and export --------------------------------------------------------------------

ImportField = strawberry.enum(importing.ImportField, description="A profile field to import.")
TableFormat = strawberry.enum(tables.TableFormat, description="Spreadsheet format.")


@strawberry.input(description="Which column of the file fills which field.")
class ColumnMappingInput:
    column: str
    field: ImportField  # type: ignore[valid-type]


@strawberry.input(
    description="Import customers from a file uploaded with POST /files?kind=IMPORT. Without "
    "a mapping, columns whose header names a field (e.g. 'name', 'contact_phone') are used."
)
class ImportCustomersInput:
    file_id: strawberry.ID
    format: TableFormat  # type: ignore[valid-type]
    mapping: list[ColumnMappingInput] | None = None
    dry_run: bool = strawberry.field(
        default=True, description="Only report what would happen (per-row errors, duplicates)"
    )
    update_existing: bool = strawberry.field(
        default=False, description="Rows matching an existing customer update it"
    )


@strawberry.type(description="A problem with one row (rows count from 1 after the header).")
class ImportRowError:
    row: int
    field: str
    message: str


@strawberry.type(description="A background import and its progress.")
class ImportJob:
    id: strawberry.ID
    status: str = strawberry.field(description="RUNNING, DONE or FAILED")
    total: int
    processed: int
    created: int
    updated: int
    duplicates: int
    failed: int
    errors: list[ImportRowError]

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
    dry_run: bool
    total: int
    valid: int
    duplicates: int
    errors: list[ImportRowError]
    job: ImportJob | None


@strawberry.type(description="An export file: download it with GET /files/<fileId>.")
class ExportCustomersPayload:
    file_id: strawberry.ID
    download_path: str
    filename: str
    rows: int
