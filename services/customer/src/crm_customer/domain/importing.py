"""Turning rows of an imported table into profile values and a contact. Pure."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from enum import StrEnum
from typing import Any

from crm_common.errors import BadUserInput
from crm_customer.domain.contacts import Contact, clean_contact
from crm_customer.domain.custom_fields import (
    CustomFieldDefinition,
    apply_values,
    value_from_cell,
)
from crm_customer.domain.customer import (
    BudgetRange,
    CompanySize,
    CustomerType,
    GeoPoint,
    Profile,
    Region,
    RevenueBand,
    RiskTag,
    SourceChannel,
    Urgency,
    clean_profile_values,
    new_profile,
)

MAX_ROWS = 200_000
MAX_REPORTED_ERRORS = 200


class ImportField(StrEnum):
    NAME = "name"
    INDUSTRY = "industry"
    CUSTOMER_TYPE = "customer_type"
    SOURCE = "source"
    PROVINCE = "province"
    CITY = "city"
    ADDRESS = "address"
    FOUNDED_ON = "founded_on"
    EMPLOYEES = "employees"
    REVENUE_BAND = "revenue_band"
    TAGS = "tags"
    RISK_TAGS = "risk_tags"
    NEEDS = "needs"
    URGENCY = "urgency"
    BUDGET_MIN_MINOR = "budget_min_minor"
    BUDGET_MAX_MINOR = "budget_max_minor"
    BUDGET_CURRENCY = "budget_currency"
    LAT = "lat"
    LNG = "lng"
    CONTACT_NAME = "contact_name"
    CONTACT_TITLE = "contact_title"
    CONTACT_PHONE = "contact_phone"
    CONTACT_EMAIL = "contact_email"


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


_BY_SQUASHED = {_squash(f.value): f for f in ImportField}


def default_mapping(headers: list[str]) -> dict[str, ImportField]:
    """Columns whose header names a field (any case, spaces/underscores ignored)."""
    return {h: _BY_SQUASHED[_squash(h)] for h in headers if _squash(h) in _BY_SQUASHED}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based data row (the header is row 0)
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    row: int
    profile: Profile
    contact: Contact | None
    custom_fields: dict[str, Any] = dataclass_field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CustomColumns:
    """Columns mapped to custom fields (column → definition) and every definition of the
    tenant (an imported row must satisfy the required ones, like a create)."""

    by_column: Mapping[str, CustomFieldDefinition]
    definitions: Mapping[str, CustomFieldDefinition]


NO_CUSTOM_COLUMNS = CustomColumns({}, {})


def custom_field_values(raw: Mapping[str, str], columns: CustomColumns) -> dict[str, Any]:
    """The row's custom field values, checked against the definitions (required included)."""
    given: dict[str, Any] = {}
    for column, definition in columns.by_column.items():
        value = value_from_cell(definition, raw.get(column) or "")
        if value is not None:
            given[definition.key] = value
    if not columns.definitions:
        return given
    return apply_values(columns.definitions, {}, given)


@functools.cache
def _members(enum: type[StrEnum]) -> dict[str, StrEnum]:
    by_text = {m.name.casefold(): m for m in enum}
    by_text.update({m.value.casefold(): m for m in enum})
    return by_text


def _enum(enum: type[StrEnum], text: str, field: str) -> Any:
    member = _members(enum).get(text.casefold())
    if member is None:
        raise BadUserInput(f"unknown value {text!r}", field=field)
    return member


def _number(text: str, field: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text)
    except ValueError as exc:
        raise BadUserInput(f"not a number: {text!r}", field=field) from exc


def _list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,，；|]", text) if part.strip()]


def parse_row(
    row_number: int,
    raw: Mapping[str, str],
    mapping: Mapping[str, ImportField],
    today: date,
    custom: CustomColumns = NO_CUSTOM_COLUMNS,
) -> ImportRow:
    """One row as a validated profile (+ contact, custom field values); `BadUserInput`
    names the bad column's field."""
    for column, text in raw.items():
        if "\x00" in (text or "") and (column in mapping or column in custom.by_column):
            # The store cannot keep it (PostgreSQL text refuses U+0000), nor should a name.
            field = mapping.get(column, column)
            raise BadUserInput("text may not contain NUL (U+0000) characters", field=field)
    cells = {field: (raw.get(column) or "").strip() for column, field in mapping.items()}
    given = {field: text for field, text in cells.items() if text}
    f = ImportField
    values: dict[str, Any] = {"name": given.get(f.NAME), "source": SourceChannel.IMPORT}
    if f.INDUSTRY in given:
        values["industry"] = given[f.INDUSTRY]
    if f.CUSTOMER_TYPE in given:
        values["customer_type"] = _enum(CustomerType, given[f.CUSTOMER_TYPE], f.CUSTOMER_TYPE)
        if values["customer_type"] != CustomerType.POTENTIAL:
            # The type follows the lifecycle status, and an imported customer starts in review.
            raise BadUserInput(
                "customer_type follows the lifecycle status: an imported customer is potential",
                field=f.CUSTOMER_TYPE,
            )
    if f.SOURCE in given:
        values["source"] = _enum(SourceChannel, given[f.SOURCE], f.SOURCE)
    if f.PROVINCE in given:
        values["region"] = Region(given[f.PROVINCE], given.get(f.CITY))
    for field in (f.ADDRESS, f.NEEDS):
        if field in given:
            values[field.value] = given[field]
    if f.FOUNDED_ON in given:
        try:
            values["founded_on"] = date.fromisoformat(given[f.FOUNDED_ON][:10])
        except ValueError as exc:
            raise BadUserInput("dates are YYYY-MM-DD", field=f.FOUNDED_ON) from exc
    if f.EMPLOYEES in given or f.REVENUE_BAND in given:
        values["size"] = CompanySize(
            _number(given[f.EMPLOYEES], f.EMPLOYEES, int) if f.EMPLOYEES in given else None,
            _enum(RevenueBand, given[f.REVENUE_BAND], f.REVENUE_BAND)
            if f.REVENUE_BAND in given
            else None,
        )
    if f.TAGS in given:
        values["tags"] = tuple(_list(given[f.TAGS]))
    if f.RISK_TAGS in given:
        values["risk_tags"] = tuple(
            _enum(RiskTag, t, f.RISK_TAGS) for t in _list(given[f.RISK_TAGS])
        )
    if f.URGENCY in given:
        values["urgency"] = _enum(Urgency, given[f.URGENCY], f.URGENCY)
    if f.BUDGET_MIN_MINOR in given or f.BUDGET_MAX_MINOR in given:
        low = _number(given.get(f.BUDGET_MIN_MINOR, "0"), f.BUDGET_MIN_MINOR, int)
        high = _number(given.get(f.BUDGET_MAX_MINOR, str(low)), f.BUDGET_MAX_MINOR, int)
        values["budget"] = BudgetRange(low, high, given.get(f.BUDGET_CURRENCY, "CNY"))
    if f.LAT in given or f.LNG in given:
        values["geo"] = GeoPoint(
            _number(given.get(f.LAT, ""), f.LAT, float), _number(given.get(f.LNG, ""), f.LNG, float)
        )
    profile = new_profile(values, today)
    contact = None
    if f.CONTACT_NAME in given:
        contact = clean_contact(
            Contact(
                id="",
                name=given[f.CONTACT_NAME],
                title=given.get(f.CONTACT_TITLE),
                phone=given.get(f.CONTACT_PHONE),
                email=given.get(f.CONTACT_EMAIL),
                is_primary=True,
            )
        )
    return ImportRow(row_number, profile, contact, custom_field_values(raw, custom))


def row_error(row_number: int, error: BadUserInput) -> RowError:
    field = (error.field or "").removeprefix("input.")
    return RowError(row_number, field, error.message)


__all__ = ["ImportField", "ImportRow", "RowError", "clean_profile_values", "parse_row"]
