"""Per-tenant custom fields end to end through the gateway: an admin defines typed fields,
values are validated on create and update (nothing stored on a bad one), read back typed on
the customer, recorded in the history, and filterable in ``customers``."""

from __future__ import annotations

from typing import Any

import pytest
import stack

from tests.e2e.client import GraphQLClient, new_tenant
from tests.e2e.test_customer_profile import LIST, UPDATE, client, history

pytestmark = [pytest.mark.e2e]

DEFINE = """
mutation($input: DefineCustomFieldInput!) {
  defineCustomField(input: $input) { definition { key label type required options } }
}
"""
DEFINITIONS = "{ customFieldDefinitions { key label type required options } }"
CREATE = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id name customFields { key type value } } }
}
"""
GET = "query($id: ID!) { customer(id: $id) { id name customFields { key type value } } }"

FIELDS: list[dict[str, Any]] = [
    {"key": "contract_no", "label": "Contract no.", "type": "TEXT", "required": True},
    {"key": "seats", "label": "Seats", "type": "NUMBER"},
    {"key": "renewal", "label": "Renewal date", "type": "DATE"},
    {"key": "tier", "label": "Tier", "type": "SELECT", "options": ["gold", "silver"]},
    {
        "key": "channels",
        "label": "Channels",
        "type": "MULTI_SELECT",
        "options": ["web", "phone", "mail"],
    },
    {"key": "vip", "label": "VIP", "type": "BOOL"},
]


async def define_all(admin: GraphQLClient) -> None:
    for field in FIELDS:
        (await admin.execute(DEFINE, {"input": field})).ok()


def values(**given: Any) -> list[dict[str, Any]]:
    return [{"key": k, "value": v} for k, v in given.items()]


async def create(gql: GraphQLClient, name: str, **given: Any) -> dict[str, Any]:
    data = await gql.execute(CREATE, {"input": {"name": name, "customFields": values(**given)}})
    customer: dict[str, Any] = data.ok()["createCustomer"]["customer"]
    return customer


async def listed_names(gql: GraphQLClient, custom_fields: list[dict[str, Any]]) -> set[str]:
    response = await gql.execute(LIST, {"filter": {"customFields": custom_fields}})
    return {e["node"]["name"] for e in response.ok()["customers"]["edges"]}


async def test_admin_defines_fields_and_values_are_validated(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-cf")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mgr-cf", team="east")

    # Only an admin defines fields; a denial stores nothing.
    for other in (rep, manager):
        denied = await other.execute(DEFINE, {"input": FIELDS[1]})
        assert denied.error_codes() == ["FORBIDDEN"]
    assert (await rep.execute(DEFINITIONS)).ok()["customFieldDefinitions"] == []
    await define_all(admin)
    defined = (await rep.execute(DEFINITIONS)).ok()["customFieldDefinitions"]
    assert {d["key"]: (d["type"], d["required"]) for d in defined}["contract_no"] == (
        "TEXT",
        True,
    )
    assert next(d for d in defined if d["key"] == "tier")["options"] == ["gold", "silver"]
    bad_definitions = [
        ({**FIELDS[3], "options": []}, "input.options"),
        ({**FIELDS[1], "type": "TEXT"}, "input.type"),  # a type never changes
        ({"key": "Bad.Key", "label": "x", "type": "TEXT"}, "input.key"),
    ]
    for definition, field in bad_definitions:
        response = await admin.execute(DEFINE, {"input": definition})
        assert response.error_codes() == ["BAD_USER_INPUT"], response.body
        assert response.errors[0]["extensions"]["field"] == field
    # Another tenant has none of these fields.
    stranger = client(live_stack, new_tenant(), ["admin"])
    assert (await stranger.execute(DEFINITIONS)).ok()["customFieldDefinitions"] == []

    bad_values: list[tuple[list[dict[str, Any]], str]] = [
        (values(contract_no="C-1", unknown="x"), "unknown"),
        (values(contract_no="C-1", seats="12"), "seats"),
        (values(contract_no="C-1", renewal="31/12/2027"), "renewal"),
        (values(contract_no="C-1", tier="bronze"), "tier"),
        (values(contract_no="C-1", channels=["web", "fax"]), "channels"),
        (values(contract_no="C-1", vip="yes"), "vip"),
        (values(contract_no={"$ne": None}), "contract_no"),
        (values(seats=3), "contract_no"),  # the required field is missing
    ]
    for given, key in bad_values:
        response = await rep.execute(
            CREATE, {"input": {"name": "Custom Bad Ltd", "customFields": given}}
        )
        assert response.error_codes() == ["BAD_USER_INPUT"], (given, response.body)
        assert response.errors[0]["extensions"]["field"] == f"input.customFields.{key}"
    assert (await rep.execute(LIST, {"search": "Custom Bad"})).ok()["customers"]["totalCount"] == 0

    created = await create(
        rep,
        "Custom Good Ltd",
        contract_no=" C-42 ",
        seats=25,
        renewal="2027-03-31",
        tier="gold",
        channels=["web", "mail", "web"],
        vip=True,
    )
    expected = [
        {"key": "channels", "type": "MULTI_SELECT", "value": ["web", "mail"]},
        {"key": "contract_no", "type": "TEXT", "value": "C-42"},
        {"key": "renewal", "type": "DATE", "value": "2027-03-31"},
        {"key": "seats", "type": "NUMBER", "value": 25},
        {"key": "tier", "type": "SELECT", "value": "gold"},
        {"key": "vip", "type": "BOOL", "value": True},
    ]
    assert created["customFields"] == expected
    assert (await rep.execute(GET, {"id": created["id"]})).ok()["customer"] == created

    # An update changes only the given keys, null clears one, and each change is history.
    update = {"id": created["id"], "customFields": values(seats=30, renewal=None)}
    (await rep.execute(UPDATE, {"input": update})).ok()
    after = (await rep.execute(GET, {"id": created["id"]})).ok()["customer"]["customFields"]
    assert {v["key"]: v["value"] for v in after} == {
        "channels": ["web", "mail"],
        "contract_no": "C-42",
        "seats": 30,
        "tier": "gold",
        "vip": True,
    }
    entries = await history(rep, created["id"])
    assert {(e["field"], e["before"], e["after"]) for e in entries} == {
        ("customFields.seats", "25", "30"),
        ("customFields.renewal", '"2027-03-31"', None),
    }
    for given, key in [
        (values(contract_no=None), "contract_no"),
        (values(tier="bronze"), "tier"),
    ]:
        response = await rep.execute(
            UPDATE, {"input": {"id": created["id"], "customFields": given}}
        )
        assert response.error_codes() == ["BAD_USER_INPUT"]
        assert response.errors[0]["extensions"]["field"] == f"input.customFields.{key}"
    unchanged = (await rep.execute(GET, {"id": created["id"]})).ok()["customer"]["customFields"]
    assert unchanged == after
    assert len(await history(rep, created["id"])) == 2


async def test_customers_filter_on_custom_fields(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    await define_all(admin)
    await create(
        admin,
        "Alpha CF",
        contract_no="A",
        seats=5,
        renewal="2027-01-15",
        tier="gold",
        channels=["web"],
        vip=True,
    )
    await create(
        admin,
        "Beta CF",
        contract_no="B",
        seats=50,
        renewal="2027-06-30",
        tier="silver",
        channels=["phone", "mail"],
        vip=False,
    )
    await create(admin, "Gamma CF", contract_no="C", channels=["web", "phone"])

    cases: list[tuple[list[dict[str, Any]], set[str]]] = [
        ([{"key": "seats", "gt": 10}], {"Beta CF"}),
        ([{"key": "seats", "gte": 5, "lte": 50}], {"Alpha CF", "Beta CF"}),
        ([{"key": "renewal", "lt": "2027-03-01"}], {"Alpha CF"}),
        ([{"key": "tier", "in": ["gold", "silver"]}], {"Alpha CF", "Beta CF"}),
        ([{"key": "tier", "eq": "silver"}], {"Beta CF"}),
        ([{"key": "channels", "contains": "web"}], {"Alpha CF", "Gamma CF"}),
        ([{"key": "channels", "in": ["mail"]}], {"Beta CF"}),
        ([{"key": "vip", "eq": False}], {"Beta CF"}),
        ([{"key": "tier", "isNull": True}], {"Gamma CF"}),
        ([{"key": "contract_no", "eq": "A"}, {"key": "vip", "eq": True}], {"Alpha CF"}),
        ([{"key": "contract_no", "eq": "A"}, {"key": "vip", "eq": False}], set()),
    ]
    for custom_fields, names in cases:
        assert await listed_names(admin, custom_fields) == names, custom_fields

    # Only defined keys, values of the field's type, operators that fit it; values are data.
    refused = [
        ({"key": "undefined", "eq": "x"}, "undefined"),
        ({"key": "contract_no", "eq": {"$ne": None}}, "contract_no"),
        ({"key": "seats", "gt": "10"}, "seats"),
        ({"key": "tier", "gt": "gold"}, "tier"),
        ({"key": "tier", "eq": "bronze"}, "tier"),
    ]
    for condition, key in refused:
        response = await admin.execute(LIST, {"filter": {"customFields": [condition]}})
        assert response.error_codes() == ["BAD_USER_INPUT"], (condition, response.body)
        assert response.errors[0]["extensions"]["field"] == f"filter.customFields.{key}"
    nested = await admin.execute(
        LIST, {"filter": {"or": [{"customFields": [{"key": "seats", "gt": 1}]}]}}
    )
    assert nested.error_codes() == ["BAD_USER_INPUT"]
