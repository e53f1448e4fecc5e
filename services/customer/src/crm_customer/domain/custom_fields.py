"""Per-tenant custom fields: their definitions, the values customers carry, and filters on them.

Pure: an admin defines typed fields (text, number, date, select, multi-select, bool), values
are checked against the definitions, and filters are checked and reduced to plain
``(key, operator, value)`` conditions that the repository turns into a query. Keys match a
strict pattern, so a key is safe inside a document path, and every value is a plain scalar
(or a list of them), so nothing a caller sends can become a query operator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from crm_common.errors import BadUserInput

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
LABEL_MAX = 100
TEXT_VALUE_MAX = 1000
OPTION_MAX = 100
OPTIONS_MAX = 100
DEFINITIONS_MAX = 100
IN_VALUES_MAX = 100


class CustomFieldType(StrEnum):
    TEXT = "TEXT"
    NUMBER = "NUMBER"
    DATE = "DATE"
    SELECT = "SELECT"
    MULTI_SELECT = "MULTI_SELECT"
    BOOL = "BOOL"


_WITH_OPTIONS = {CustomFieldType.SELECT, CustomFieldType.MULTI_SELECT}
_ORDERED = {CustomFieldType.NUMBER, CustomFieldType.DATE}


@dataclass(frozen=True, slots=True)
class CustomFieldDefinition:
    key: str
    label: str
    type: CustomFieldType
    required: bool = False
    options: tuple[str, ...] = ()


def _definition_error(message: str, name: str) -> BadUserInput:
    return BadUserInput(message, field=f"input.{name}")


def clean_definition(
    key: str, label: str, field_type: CustomFieldType, required: bool, options: Sequence[str]
) -> CustomFieldDefinition:
    """A valid definition, or `BadUserInput` naming the bad part of the input."""
    if not KEY_PATTERN.fullmatch(key):
        raise _definition_error(
            "key must be 1-40 lower-case letters, digits or _ and start with a letter", "key"
        )
    clean_label = re.sub(r"\s+", " ", label).strip()
    if not clean_label or len(clean_label) > LABEL_MAX:
        raise _definition_error(f"label must be 1 to {LABEL_MAX} characters", "label")
    clean_options = tuple(dict.fromkeys(o.strip() for o in options))
    if field_type in _WITH_OPTIONS:
        if not clean_options:
            raise _definition_error("a select field needs options", "options")
        if len(clean_options) > OPTIONS_MAX:
            raise _definition_error(f"at most {OPTIONS_MAX} options", "options")
        if any(not o or len(o) > OPTION_MAX for o in clean_options):
            raise _definition_error(f"options must be 1 to {OPTION_MAX} characters", "options")
    elif clean_options:
        raise _definition_error("only select fields have options", "options")
    return CustomFieldDefinition(key, clean_label, field_type, required, clean_options)


def check_redefinition(
    existing: CustomFieldDefinition | None, new: CustomFieldDefinition, defined: int
) -> None:
    """A key keeps its type once defined (stored values would no longer fit another one)."""
    if existing is None:
        if defined >= DEFINITIONS_MAX:
            raise _definition_error(f"at most {DEFINITIONS_MAX} custom fields", "key")
        return
    if existing.type != new.type:
        raise _definition_error(
            f"{new.key} is a {existing.type.value} field; its type cannot change", "type"
        )


# --- values ---------------------------------------------------------------------------------


def _value_error(key: str, message: str, prefix: str = "input.customFields") -> BadUserInput:
    return BadUserInput(f"custom field {key}: {message}", field=f"{prefix}.{key}")


def _scalar(definition: CustomFieldDefinition, value: Any, prefix: str) -> Any:
    """The stored form of one (non-list) value: str, int/float, bool or a YYYY-MM-DD string."""
    key = definition.key
    match definition.type:
        case CustomFieldType.TEXT:
            if not isinstance(value, str):
                raise _value_error(key, "expects text", prefix)
            text = value.strip()
            if not text or len(text) > TEXT_VALUE_MAX:
                raise _value_error(key, f"text must be 1 to {TEXT_VALUE_MAX} characters", prefix)
            return text
        case CustomFieldType.NUMBER:
            # bool is an int in Python, but true is not a number.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _value_error(key, "expects a number", prefix)
            if isinstance(value, float) and not math.isfinite(value):
                raise _value_error(key, "expects a finite number", prefix)
            return value
        case CustomFieldType.DATE:
            if not isinstance(value, str):
                raise _value_error(key, "expects a date as YYYY-MM-DD", prefix)
            try:
                # ISO strings order like the dates themselves, so ranges work on the text.
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                raise _value_error(key, "expects a date as YYYY-MM-DD", prefix) from None
        case CustomFieldType.BOOL:
            if not isinstance(value, bool):
                raise _value_error(key, "expects true or false", prefix)
            return value
        case CustomFieldType.SELECT | CustomFieldType.MULTI_SELECT:
            if not isinstance(value, str):
                raise _value_error(key, "expects one of its options", prefix)
            if value not in definition.options:
                raise _value_error(key, f"{value!r} is not one of its options", prefix)
            return value
    raise AssertionError(definition.type)  # pragma: no cover - the match is exhaustive


def clean_value(definition: CustomFieldDefinition, value: Any) -> Any:
    """The stored form of a value (never None: clearing is handled by the caller)."""
    if definition.type == CustomFieldType.MULTI_SELECT:
        if not isinstance(value, list):
            raise _value_error(definition.key, "expects a list of options")
        chosen = [_scalar(definition, v, "input.customFields") for v in value]
        return list(dict.fromkeys(chosen))
    return _scalar(definition, value, "input.customFields")


_TRUE = frozenset({"true", "yes", "y", "1", "是", "√"})
_FALSE = frozenset({"false", "no", "n", "0", "否", "×"})
_LIST_SEPARATORS = re.compile(r"[;,，；|]")
_INTEGER = re.compile(r"[+-]?\d+")


def value_from_cell(definition: CustomFieldDefinition, text: str) -> Any:
    """A spreadsheet cell as a value of the field's type (None for an empty cell), checked
    like a value given through the API; errors name ``input.customFields.<key>``."""
    cell = text.strip()
    if not cell:
        return None
    match definition.type:
        case CustomFieldType.NUMBER:
            try:
                value: Any = int(cell) if _INTEGER.fullmatch(cell) else float(cell)
            except ValueError:
                raise _value_error(definition.key, f"not a number: {cell!r}") from None
        case CustomFieldType.BOOL:
            folded = cell.casefold()
            if folded not in _TRUE | _FALSE:
                raise _value_error(definition.key, f"expects true or false, not {cell!r}")
            value = folded in _TRUE
        case CustomFieldType.MULTI_SELECT:
            value = [part.strip() for part in _LIST_SEPARATORS.split(cell) if part.strip()]
        case _:
            value = cell
    return clean_value(definition, value)


def _is_empty(value: Any) -> bool:
    return value is None or value == []


def apply_values(
    definitions: Mapping[str, CustomFieldDefinition],
    current: Mapping[str, Any],
    given: Mapping[str, Any],
) -> dict[str, Any]:
    """The custom field values after setting ``given`` on ``current`` (None clears a field).

    Unknown keys, wrong types, options not in the list and required fields left empty are
    `BadUserInput` naming ``input.customFields.<key>``. Values of fields that are no longer
    defined are kept as they are (an admin may define the field again).
    """
    result = dict(current)
    for key, value in given.items():
        definition = definitions.get(key)
        if definition is None:
            raise _value_error(key, "is not defined for this tenant")
        if _is_empty(value):
            result.pop(key, None)
        else:
            result[key] = clean_value(definition, value)
    for definition in definitions.values():
        if definition.required and _is_empty(result.get(definition.key)):
            raise _value_error(definition.key, "is required")
    return result


def value_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Keys whose value differs, in a stable order."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


# --- filters --------------------------------------------------------------------------------


class FilterOperator(StrEnum):
    """What the repository understands; each maps to one Mongo operator."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IS_NULL = "is_null"


@dataclass(frozen=True, slots=True)
class CustomFieldFilter:
    """What a caller asked for on one custom field (raw values, checked by `clean_filters`)."""

    key: str
    eq: Any = None
    neq: Any = None
    in_: Sequence[Any] | None = None
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None
    contains: Any = None
    is_null: bool | None = None


@dataclass(frozen=True, slots=True)
class CustomFieldCondition:
    key: str
    operator: FilterOperator
    value: Any


_OPERATORS = {
    "eq": FilterOperator.EQ,
    "neq": FilterOperator.NE,
    "gt": FilterOperator.GT,
    "gte": FilterOperator.GTE,
    "lt": FilterOperator.LT,
    "lte": FilterOperator.LTE,
}


def clean_filters(
    definitions: Mapping[str, CustomFieldDefinition],
    filters: Sequence[CustomFieldFilter],
    prefix: str = "filter.customFields",
) -> list[CustomFieldCondition]:
    """Check each filter against the definitions; all conditions must hold (AND).

    On a multi-select field ``eq`` and ``contains`` mean "has this option" and ``in`` means
    "has any of these options"; ``gt``/``gte``/``lt``/``lte`` need a number or date field.
    """
    conditions: list[CustomFieldCondition] = []
    for wanted in filters:
        key = wanted.key
        definition = definitions.get(key)
        if definition is None:
            raise _value_error(key, "is not defined for this tenant", prefix)
        ordered = definition.type in _ORDERED
        multi = definition.type == CustomFieldType.MULTI_SELECT
        for name, operator in _OPERATORS.items():
            value = getattr(wanted, name)
            if value is None:
                continue
            if operator not in (FilterOperator.EQ, FilterOperator.NE) and not ordered:
                raise _value_error(key, f"{name} needs a number or date field", prefix)
            conditions.append(
                CustomFieldCondition(key, operator, _scalar(definition, value, prefix))
            )
        if wanted.contains is not None:
            if not multi:
                raise _value_error(key, "contains needs a multi-select field", prefix)
            value = _scalar(definition, wanted.contains, prefix)
            conditions.append(CustomFieldCondition(key, FilterOperator.EQ, value))
        if wanted.in_ is not None:
            if len(wanted.in_) > IN_VALUES_MAX:
                raise _value_error(key, f"at most {IN_VALUES_MAX} values in 'in'", prefix)
            values = [_scalar(definition, v, prefix) for v in wanted.in_]
            conditions.append(CustomFieldCondition(key, FilterOperator.IN, values))
        if wanted.is_null is not None:
            conditions.append(CustomFieldCondition(key, FilterOperator.IS_NULL, wanted.is_null))
    return conditions
