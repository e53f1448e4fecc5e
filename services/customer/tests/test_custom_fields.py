"""Pure rules of custom fields: definitions, value validation and filter checking."""

from __future__ import annotations

from typing import Any

import pytest

from crm_common.errors import BadUserInput
from crm_customer.domain.custom_fields import (
    CustomFieldCondition,
    CustomFieldDefinition,
    CustomFieldFilter,
    CustomFieldType,
    FilterOperator,
    apply_values,
    check_redefinition,
    clean_definition,
    clean_filters,
    value_changes,
)

T = CustomFieldType
DEFINITIONS = {
    d.key: d
    for d in (
        clean_definition("contract_no", "Contract no.", T.TEXT, True, ()),
        clean_definition("seats", "Seats", T.NUMBER, False, ()),
        clean_definition("renewal", "Renewal", T.DATE, False, ()),
        clean_definition("tier", "Tier", T.SELECT, False, ("gold", "silver")),
        clean_definition("channels", "Channels", T.MULTI_SELECT, False, ("web", "phone", "mail")),
        clean_definition("vip", "VIP", T.BOOL, False, ()),
    )
}
VALID: dict[str, Any] = {"contract_no": "C-1"}


def field_of(error: pytest.ExceptionInfo[BadUserInput]) -> Any:
    return error.value.field


def test_a_definition_is_cleaned() -> None:
    defined = clean_definition("tier", "  Customer   tier ", T.SELECT, True, ["a", " b", "a"])
    assert defined == CustomFieldDefinition("tier", "Customer tier", T.SELECT, True, ("a", "b"))


@pytest.mark.parametrize(
    ("key", "label", "field_type", "options", "field"),
    [
        ("Bad-Key", "x", T.TEXT, (), "input.key"),
        ("1st", "x", T.TEXT, (), "input.key"),
        ("a.b", "x", T.TEXT, (), "input.key"),
        ("$where", "x", T.TEXT, (), "input.key"),
        ("k" * 41, "x", T.TEXT, (), "input.key"),
        ("ok", "  ", T.TEXT, (), "input.label"),
        ("ok", "x", T.SELECT, (), "input.options"),
        ("ok", "x", T.MULTI_SELECT, ("a", " "), "input.options"),
        ("ok", "x", T.NUMBER, ("a",), "input.options"),
    ],
)
def test_bad_definitions_name_the_input(
    key: str, label: str, field_type: CustomFieldType, options: tuple[str, ...], field: str
) -> None:
    with pytest.raises(BadUserInput) as error:
        clean_definition(key, label, field_type, False, options)
    assert field_of(error) == field


def test_a_type_cannot_change_but_labels_and_options_can() -> None:
    tier = DEFINITIONS["tier"]
    check_redefinition(tier, clean_definition("tier", "T", T.SELECT, True, ("gold",)), 6)
    with pytest.raises(BadUserInput) as error:
        check_redefinition(tier, clean_definition("tier", "T", T.TEXT, False, ()), 6)
    assert field_of(error) == "input.type"
    with pytest.raises(BadUserInput):
        check_redefinition(None, clean_definition("new", "N", T.TEXT, False, ()), 100)


def test_valid_values_are_stored_in_their_plain_form() -> None:
    given = {
        "contract_no": "  C-7 ",
        "seats": 12,
        "renewal": "2027-01-31",
        "tier": "gold",
        "channels": ["web", "mail", "web"],
        "vip": False,
    }
    assert apply_values(DEFINITIONS, {}, given) == {
        "contract_no": "C-7",
        "seats": 12,
        "renewal": "2027-01-31",
        "tier": "gold",
        "channels": ["web", "mail"],
        "vip": False,
    }


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ({"unknown": "x"}, "unknown"),
        ({"seats": "12"}, "seats"),
        ({"seats": True}, "seats"),
        ({"renewal": "31/01/2027"}, "renewal"),
        ({"renewal": 20270131}, "renewal"),
        ({"tier": "bronze"}, "tier"),
        ({"channels": "web"}, "channels"),
        ({"channels": ["web", "fax"]}, "channels"),
        ({"vip": "yes"}, "vip"),
        ({"contract_no": 7}, "contract_no"),
        ({"contract_no": "x" * 1001}, "contract_no"),
        ({"contract_no": {"$ne": None}}, "contract_no"),
    ],
)
def test_bad_values_name_the_field(given: dict[str, Any], key: str) -> None:
    with pytest.raises(BadUserInput) as error:
        apply_values(DEFINITIONS, {}, {**VALID, **given})
    assert field_of(error) == f"input.customFields.{key}"


def test_required_fields_must_stay_filled() -> None:
    with pytest.raises(BadUserInput) as error:
        apply_values(DEFINITIONS, {}, {"seats": 1})
    assert field_of(error) == "input.customFields.contract_no"
    current = {"contract_no": "C-1", "seats": 3}
    with pytest.raises(BadUserInput):
        apply_values(DEFINITIONS, current, {"contract_no": None})
    assert apply_values(DEFINITIONS, current, {"seats": None}) == {"contract_no": "C-1"}


def test_value_changes_list_the_changed_keys() -> None:
    assert value_changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == ["b", "c"]
    assert value_changes({"a": 1}, {}) == ["a"]


def test_filters_become_typed_conditions() -> None:
    wanted = [
        CustomFieldFilter("seats", gte=10, lt=100),
        CustomFieldFilter("renewal", lte="2027-06-30"),
        CustomFieldFilter("tier", in_=["gold", "silver"]),
        CustomFieldFilter("channels", contains="web"),
        CustomFieldFilter("vip", eq=True),
        CustomFieldFilter("contract_no", is_null=False),
    ]
    assert clean_filters(DEFINITIONS, wanted) == [
        CustomFieldCondition("seats", FilterOperator.GTE, 10),
        CustomFieldCondition("seats", FilterOperator.LT, 100),
        CustomFieldCondition("renewal", FilterOperator.LTE, "2027-06-30"),
        CustomFieldCondition("tier", FilterOperator.IN, ["gold", "silver"]),
        CustomFieldCondition("channels", FilterOperator.EQ, "web"),
        CustomFieldCondition("vip", FilterOperator.EQ, True),
        CustomFieldCondition("contract_no", FilterOperator.IS_NULL, False),
    ]


@pytest.mark.parametrize(
    "wanted",
    [
        CustomFieldFilter("nope", eq="x"),
        CustomFieldFilter("tier", gt="gold"),
        CustomFieldFilter("tier", eq="bronze"),
        CustomFieldFilter("seats", eq={"$gt": 0}),
        CustomFieldFilter("seats", in_=[1, "2"]),
        CustomFieldFilter("vip", contains=True),
        CustomFieldFilter("renewal", gt="tomorrow"),
    ],
)
def test_bad_filters_name_the_field(wanted: CustomFieldFilter) -> None:
    with pytest.raises(BadUserInput) as error:
        clean_filters(DEFINITIONS, [wanted])
    assert field_of(error) == f"filter.customFields.{wanted.key}"
