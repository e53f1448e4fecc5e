"""Import rows and tables: mapping, per-row validation, CSV/XLSX round trips."""

from __future__ import annotations

from datetime import date

import pytest

from crm_common.errors import BadUserInput
from crm_customer.domain.custom_fields import CustomFieldDefinition, CustomFieldType
from crm_customer.domain.customer import RiskTag, SourceChannel, Urgency
from crm_customer.domain.importing import (
    CustomColumns,
    ImportField,
    ImportRow,
    default_mapping,
    parse_row,
    row_error,
)
from crm_customer.service.tables import TableFormat, read_table, write_table

TODAY = date(2026, 11, 23)


def test_headers_map_to_fields_in_any_spelling() -> None:
    mapping = default_mapping(["Name", "Contact Phone", "founded_on", "unknown column"])
    assert mapping == {
        "Name": ImportField.NAME,
        "Contact Phone": ImportField.CONTACT_PHONE,
        "founded_on": ImportField.FOUNDED_ON,
    }


def test_a_row_becomes_a_profile_and_a_primary_contact() -> None:
    raw = {
        "name": "Row Co",
        "province": "浙江",
        "city": "杭州",
        "urgency": "high",
        "risk_tags": "budget_short; COMPETITOR_INVOLVED",
        "tags": "a,b",
        "contact_name": "Zhang",
        "contact_phone": "+86 138 0000 0001",
    }
    row = parse_row(3, raw, default_mapping(list(raw)), TODAY)
    assert row.row == 3
    assert row.profile.source == SourceChannel.IMPORT
    assert row.profile.region is not None and row.profile.region.province == "浙江省"
    assert row.profile.urgency == Urgency.HIGH
    assert row.profile.risk_tags == (RiskTag.BUDGET_SHORT, RiskTag.COMPETITOR_INVOLVED)
    assert row.profile.tags == ("a", "b")
    assert row.contact is not None and row.contact.is_primary


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "founded_on": "23/11/2020"}, "founded_on"),
        ({"name": "X", "employees": "many"}, "employees"),
        ({"name": "X", "urgency": "asap"}, "urgency"),
        ({"name": "X", "contact_name": "C", "contact_email": "bad"}, "email"),
        ({"name": "Tea\x00House"}, "name"),
        ({"name": "X", "industry": "tea\x00"}, "industry"),
        # The type follows the lifecycle: an imported (new) customer is potential.
        ({"name": "X", "customer_type": "deal"}, "customer_type"),
    ],
)
def test_bad_rows_name_the_field(raw: dict[str, str], field: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        parse_row(1, raw, default_mapping(list(raw)), TODAY)
    assert row_error(1, raised.value).field == field


@pytest.mark.parametrize("table_format", list(TableFormat))
def test_tables_round_trip(table_format: TableFormat) -> None:
    data = write_table(["name", "employees"], [["甲公司", 12], ["B", ""]], table_format)
    header, rows = read_table(data, table_format, max_rows=10)
    assert header == ["name", "employees"]
    assert rows == [{"name": "甲公司", "employees": "12"}, {"name": "B", "employees": ""}]


def test_too_many_rows_are_refused() -> None:
    data = write_table(["name"], [["a"], ["b"], ["c"]], TableFormat.CSV)
    with pytest.raises(BadUserInput):
        read_table(data, TableFormat.CSV, max_rows=2)


# --- custom field columns --------------------------------------------------------------------

_DEFINITIONS = {
    d.key: d
    for d in (
        CustomFieldDefinition("seats", "Seats", CustomFieldType.NUMBER),
        CustomFieldDefinition("ratio", "Ratio", CustomFieldType.NUMBER),
        CustomFieldDefinition("renewal", "Renewal", CustomFieldType.DATE),
        CustomFieldDefinition("vip", "VIP", CustomFieldType.BOOL, required=True),
        CustomFieldDefinition("tier", "Tier", CustomFieldType.SELECT, options=("gold", "silver")),
        CustomFieldDefinition(
            "channels", "Channels", CustomFieldType.MULTI_SELECT, options=("web", "mail")
        ),
    )
}
_COLUMNS = CustomColumns(
    {"Seats": _DEFINITIONS["seats"], "Ratio": _DEFINITIONS["ratio"],
     "Renewal": _DEFINITIONS["renewal"], "VIP": _DEFINITIONS["vip"],
     "Tier": _DEFINITIONS["tier"], "Channels": _DEFINITIONS["channels"]},
    _DEFINITIONS,
)  # fmt: skip


def _row(**cells: str) -> ImportRow:
    return parse_row(1, {"name": "CF Co", **cells}, {"name": ImportField.NAME}, TODAY, _COLUMNS)


def test_custom_field_cells_are_read_as_their_type() -> None:
    row = _row(Seats="12", Ratio="0.5", Renewal="2027-01-31", VIP="是", Tier="gold",
               Channels="web; mail;web")  # fmt: skip
    assert row.custom_fields == {
        "seats": 12,
        "ratio": 0.5,
        "renewal": "2027-01-31",
        "vip": True,
        "tier": "gold",
        "channels": ["web", "mail"],
    }
    assert _row(VIP="no", Seats="").custom_fields == {"vip": False}  # empty cell: unset


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ({"VIP": "yes", "Seats": "many"}, "customFields.seats"),
        ({"VIP": "yes", "Renewal": "31/01/2027"}, "customFields.renewal"),
        ({"VIP": "maybe"}, "customFields.vip"),
        ({"VIP": "yes", "Tier": "bronze"}, "customFields.tier"),
        ({"VIP": "yes", "Channels": "web;fax"}, "customFields.channels"),
        ({"Seats": "3"}, "customFields.vip"),  # required, like on create
    ],
)
def test_bad_custom_field_cells_name_the_field(cells: dict[str, str], field: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        _row(**cells)
    assert row_error(1, caught.value).field == field


def test_without_custom_columns_rows_carry_no_custom_fields() -> None:
    row = parse_row(1, {"name": "Plain Co"}, {"name": ImportField.NAME}, TODAY)
    assert row.custom_fields == {}
