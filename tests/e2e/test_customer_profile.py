"""The customer profile end to end through the gateway: fields and validation, history,
review and lifecycle, contacts, permissions, soft delete, duplicates and merge, map view,
and the reaction to an accepted quote. The helpers at the top are shared with the other
``test_customer_*`` files."""

from __future__ import annotations

from typing import Any

import pytest
import stack
from aiokafka import AIOKafkaProducer

from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

CUSTOMER_FIELDS = """
  id number name status customerType industry source address foundedOn needs urgency
  tags riskTags ownerId team deletedAt mergedIntoId
  region { province city } size { employees revenueBand }
  budget { minMinor maxMinor currency } geo { lat lng }
  contacts { id name title decisionRole phone email isPrimary }
  review { approved comment actorId }
"""
CREATE = (
    "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { "
    + CUSTOMER_FIELDS
    + " } } }"
)
GET = "query($id: ID!) { customer(id: $id) { " + CUSTOMER_FIELDS + " } }"
HISTORY = """
query($id: ID!) { customer(id: $id) { history { at actorId field before after reason } } }
"""
LIST = """
query($filter: CustomerFilter, $search: String, $includeDeleted: Boolean) {
  customers(first: 100, filter: $filter, search: $search, includeDeleted: $includeDeleted) {
    totalCount edges { node { id number name status } }
  }
}
"""


def mutation(
    name: str, input_type: str, selection: str = "customer { " + CUSTOMER_FIELDS + " }"
) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} }} }}"


UPDATE = mutation("updateCustomer", "UpdateCustomerInput")
APPROVE = mutation("approveCustomer", "ReviewCustomerInput")
REJECT = mutation("rejectCustomer", "ReviewCustomerInput")
CHANGE_STATUS = mutation("changeCustomerStatus", "ChangeCustomerStatusInput")
ASSIGN = mutation("assignCustomerOwner", "AssignCustomerOwnerInput")
ADD_CONTACT = mutation(
    "addContact", "AddContactInput", "contact { id isPrimary } customer { " + CUSTOMER_FIELDS + " }"
)
UPDATE_CONTACT = mutation("updateContact", "UpdateContactInput")
REMOVE_CONTACT = mutation("removeContact", "RemoveContactInput")
DELETE = mutation("deleteCustomer", "DeleteCustomerInput")
RESTORE = mutation("restoreCustomer", "RestoreCustomerInput")
MERGE = mutation("mergeCustomers", "MergeCustomersInput")


def client(
    config: stack.StackConfig,
    tenant: str,
    roles: list[str],
    user_id: str | None = None,
    team: str | None = None,
) -> GraphQLClient:
    token = token_for(config.var_dir, tenant, roles, user_id=user_id, team=team)
    return GraphQLClient(config.gateway_url, token)


async def create(gql: GraphQLClient, name: str, **fields: Any) -> dict[str, Any]:
    data = (await gql.execute(CREATE, {"input": {"name": name, **fields}})).ok()
    customer: dict[str, Any] = data["createCustomer"]["customer"]
    return customer


async def get(gql: GraphQLClient, customer_id: str) -> dict[str, Any] | None:
    customer: dict[str, Any] | None = (await gql.execute(GET, {"id": customer_id})).ok()["customer"]
    return customer


async def history(gql: GraphQLClient, customer_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await gql.execute(HISTORY, {"id": customer_id})).ok()[
        "customer"
    ]["history"]
    return entries


async def publish(config: stack.StackConfig, payload: EventData, tenant: str, key: str) -> None:
    """Put one event on its topic the way a producing service's relay would."""
    event = CloudEvent.new(payload, source="crm/e2e", tenant_id=tenant, key=key)
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for _ in range(2):  # delivered twice: the consumer must apply it once
            await producer.send_and_wait(
                payload.topic, value=event.body(), key=key.encode(), headers=event.headers()
            )
    finally:
        await producer.stop()


FULL_PROFILE: dict[str, Any] = {
    "industry": "tea",
    "customerType": "POTENTIAL",  # a new customer's type (it follows the lifecycle)
    "source": "EXHIBITION",
    "region": {"province": "Zhejiang", "city": "杭州"},
    "address": "西湖区 1 号",
    "foundedOn": "2001-05-20",
    "size": {"employees": 120, "revenueBand": "FROM_10M_TO_100M"},
    "tags": ["key-account", "high-intent"],
    "riskTags": ["BUDGET_SHORT", "COMPETITOR_INVOLVED"],
    "needs": "ERP replacement",
    "urgency": "HIGH",
    "budget": {"minMinor": "5000000000", "maxMinor": "12000000000", "currency": "CNY"},
    "geo": {"lat": 30.25, "lng": 120.16},
    "contacts": [
        {
            "name": "Li Wei",
            "title": "CIO",
            "decisionRole": "DECISION_MAKER",
            "phone": "+86 138-0013-8000",
            "email": "li.wei@westlake.example",
        },
        {"name": "Wang Fang", "phone": "0571 8888 6666", "email": "wf@westlake.example"},
    ],
}


async def test_full_profile_is_stored_validated_and_read_back(
    live_stack: stack.StackConfig,
) -> None:
    gql = client(live_stack, new_tenant(), ["sales_rep"], user_id="rep-1", team="east")
    created = await create(gql, "Westlake Tea Co., Ltd.", **FULL_PROFILE)
    assert created["status"] == "PENDING_REVIEW"
    assert created["region"] == {"province": "浙江省", "city": "杭州"}
    assert created["budget"] == FULL_PROFILE["budget"]
    assert created["size"] == FULL_PROFILE["size"]
    assert created["riskTags"] == ["BUDGET_SHORT", "COMPETITOR_INVOLVED"]
    assert (created["ownerId"], created["team"]) == ("rep-1", "east")
    assert [c["isPrimary"] for c in created["contacts"]] == [True, False]
    assert await get(gql, created["id"]) == created

    bad_inputs: list[tuple[dict[str, Any], str]] = [
        ({"foundedOn": "2999-01-01"}, "input.foundedOn"),
        ({"region": {"province": "Atlantis"}}, "input.region.province"),
        ({"geo": {"lat": 91, "lng": 0}}, "input.geo.lat"),
        ({"geo": {"lat": 0, "lng": -181}}, "input.geo.lng"),
        (
            {"budget": {"minMinor": "9", "maxMinor": "1", "currency": "CNY"}},
            "input.budget.maxMinor",
        ),
        (
            {"budget": {"minMinor": "1", "maxMinor": "9", "currency": "yuan"}},
            "input.budget.currency",
        ),
        ({"size": {"employees": -1}}, "input.size.employees"),
        ({"contacts": [{"name": "X", "email": "not-an-email"}]}, "input.email"),
        ({"contacts": [{"name": "X", "phone": "12"}]}, "input.phone"),
    ]
    for fields, field in bad_inputs:
        response = await gql.execute(CREATE, {"input": {"name": "Bad Input Ltd", **fields}})
        assert response.error_codes() == ["BAD_USER_INPUT"], (fields, response.body)
        assert response.errors[0]["extensions"]["field"] == field
    listed = (await gql.execute(LIST, {"search": "Bad Input"})).ok()["customers"]
    assert listed["totalCount"] == 0

    # The same company under another spelling is a conflict naming the existing customer.
    conflict = await gql.execute(CREATE, {"input": {"name": "ＷＥＳＴＬＡＫＥ  TEA 有限公司"}})
    assert conflict.error_codes() == ["CONFLICT"]
    assert conflict.errors[0]["extensions"]["existingCustomerId"] == created["id"]


async def test_updates_keep_a_field_level_history(live_stack: stack.StackConfig) -> None:
    gql = client(live_stack, new_tenant(), ["sales_rep"], user_id="rep-h")
    created = await create(gql, "History Trading", industry="retail")
    update = {"id": created["id"], "industry": "wholesale", "urgency": "LOW", "address": None}
    updated = (await gql.execute(UPDATE, {"input": update})).ok()["updateCustomer"]["customer"]
    assert (updated["industry"], updated["urgency"]) == ("wholesale", "LOW")
    # Repeating the same update changes nothing and records nothing.
    (await gql.execute(UPDATE, {"input": update})).ok()
    entries = await history(gql, created["id"])
    assert {(e["field"], e["before"], e["after"], e["actorId"]) for e in entries} == {
        ("industry", '"retail"', '"wholesale"', "rep-h"),
        ("urgency", None, '"LOW"', "rep-h"),
    }
    bad = await gql.execute(UPDATE, {"input": {"id": created["id"], "foundedOn": "2999-01-01"}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert len(await history(gql, created["id"])) == 2


async def test_review_then_lifecycle_with_history(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-l", team="north")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mgr-n", team="north")
    other_manager = client(live_stack, tenant, ["sales_manager"], user_id="mgr-s", team="south")
    customer = await create(rep, "Lifecycle Works")
    cid = customer["id"]

    # Before review there is no lifecycle; only the team's manager reviews.
    early = await rep.execute(CHANGE_STATUS, {"input": {"id": cid, "status": "INTENTION"}})
    assert early.error_codes() == ["BAD_USER_INPUT"]
    for outsider in (rep, other_manager):
        denied = await outsider.execute(APPROVE, {"input": {"id": cid, "comment": "ok"}})
        assert denied.error_codes() == ["FORBIDDEN"]
    no_comment = await manager.execute(REJECT, {"input": {"id": cid}})
    assert no_comment.error_codes() == ["BAD_USER_INPUT"]
    approved = await manager.execute(APPROVE, {"input": {"id": cid, "comment": "real company"}})
    customer = approved.ok()["approveCustomer"]["customer"]
    assert customer["status"] == "LEAD"
    assert customer["review"] == {"approved": True, "comment": "real company", "actorId": "mgr-n"}

    illegal = await rep.execute(CHANGE_STATUS, {"input": {"id": cid, "status": "DEAL"}})
    assert illegal.error_codes() == ["BAD_USER_INPUT"]
    for target, reason in [
        ("INTENTION", "asked for a quote"),
        ("DEAL", "signed"),
        ("CHURNED", "went to a competitor"),
        ("INTENTION", "win-back"),
    ]:
        moved = await rep.execute(
            CHANGE_STATUS, {"input": {"id": cid, "status": target, "reason": reason}}
        )
        assert moved.ok()["changeCustomerStatus"]["customer"]["status"] == target
    status_entries = [e for e in await history(rep, cid) if e["field"] == "status"]
    assert [(e["after"], e["reason"]) for e in reversed(status_entries)] == [
        ('"LEAD"', "real company"),
        ('"INTENTION"', "asked for a quote"),
        ('"DEAL"', "signed"),
        ('"CHURNED"', "went to a competitor"),
        ('"INTENTION"', "win-back"),
    ]


async def test_an_accepted_quote_makes_the_customer_a_deal_once(
    live_stack: stack.StackConfig,
) -> None:
    from datetime import UTC, datetime

    from crm_common.events.contracts.quoting import QuoteAccepted

    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    customer = await create(admin, "Quote Taker")
    (await admin.execute(APPROVE, {"input": {"id": customer["id"]}})).ok()
    accepted = QuoteAccepted(
        quote_id="q-1",
        quote_number="Q-1",
        version=1,
        opportunity_id="o-1",
        customer_id=customer["id"],
        owner_id="rep",
        total_minor=100_00,
        currency="CNY",
        accepted_at=datetime.now(UTC),
    )
    await publish(live_stack, accepted, tenant, customer["id"])

    async def is_deal() -> bool:
        found = await get(admin, customer["id"])
        return found is not None and found["status"] == "DEAL"

    await eventually(is_deal)
    deal_entries = [e for e in await history(admin, customer["id"]) if e["after"] == '"DEAL"']
    assert len(deal_entries) == 1 and deal_entries[0]["actorId"] == "system:quoting"


async def test_contacts_have_exactly_one_primary(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-c")
    analyst = client(live_stack, tenant, ["analyst"])
    customer = await create(rep, "Contact Holders")
    cid = customer["id"]
    first = (
        await rep.execute(
            ADD_CONTACT,
            {"input": {"customerId": cid, "contact": {"name": "A", "phone": "13800138000"}}},
        )
    ).ok()["addContact"]
    assert first["contact"]["isPrimary"] is True
    second = (
        await rep.execute(
            ADD_CONTACT,
            {"input": {"customerId": cid, "contact": {"name": "B", "email": "b@x.example"}}},
        )
    ).ok()["addContact"]
    assert second["contact"]["isPrimary"] is False
    switched = (
        await rep.execute(
            UPDATE_CONTACT,
            {"input": {"customerId": cid, "contactId": second["contact"]["id"], "isPrimary": True}},
        )
    ).ok()["updateContact"]["customer"]
    assert [(c["name"], c["isPrimary"]) for c in switched["contacts"]] == [
        ("B", True),  # the primary is listed first
        ("A", False),
    ]
    bad = await rep.execute(
        UPDATE_CONTACT,
        {"input": {"customerId": cid, "contactId": second["contact"]["id"], "email": "nope"}},
    )
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    removed = (
        await rep.execute(
            REMOVE_CONTACT, {"input": {"customerId": cid, "contactId": second["contact"]["id"]}}
        )
    ).ok()["removeContact"]["customer"]
    assert [(c["name"], c["isPrimary"]) for c in removed["contacts"]] == [("A", True)]

    seen_by_analyst = await get(analyst, cid)
    assert seen_by_analyst is not None
    assert seen_by_analyst["contacts"][0]["phone"] == "138******00"


async def test_every_denial_is_forbidden_and_changes_nothing(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    owner = client(live_stack, tenant, ["sales_rep"], user_id="rep-own", team="east")
    other_rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-other", team="east")
    agent = client(live_stack, tenant, ["service_agent"])
    analyst = client(live_stack, tenant, ["analyst"])
    west_manager = client(live_stack, tenant, ["sales_manager"], user_id="m-w", team="west")
    customer = await create(
        owner, "Guarded Ltd", contacts=[{"name": "C", "email": "c@guarded.example"}]
    )
    cid, contact_id = customer["id"], customer["contacts"][0]["id"]
    attempts: list[tuple[GraphQLClient, str, dict[str, Any]]] = [
        (other_rep, UPDATE, {"id": cid, "industry": "x"}),
        (agent, UPDATE, {"id": cid, "industry": "x"}),
        (analyst, UPDATE, {"id": cid, "industry": "x"}),
        (west_manager, UPDATE, {"id": cid, "industry": "x"}),
        (other_rep, DELETE, {"id": cid}),
        (
            agent,
            ADD_CONTACT.replace("contact { id isPrimary } ", ""),
            {"customerId": cid, "contact": {"name": "Z"}},
        ),
        (other_rep, REMOVE_CONTACT, {"customerId": cid, "contactId": contact_id}),
        (owner, ASSIGN, {"id": cid, "ownerId": "rep-other"}),
        (agent, CREATE, {"name": "Agent Made"}),
        (owner, CREATE, {"name": "For Someone Else", "ownerId": "rep-other"}),
    ]
    for gql, query, variables in attempts:
        response = await gql.execute(query, {"input": variables})
        assert response.error_codes() == ["FORBIDDEN"], (query, variables, response.body)
    assert await get(owner, cid) == customer
    assert await history(owner, cid) == []

    # Reads: the service agent sees basics and contacts; the other rep sees nothing; another
    # tenant sees nothing either.
    seen = await get(agent, cid)
    assert seen is not None and seen["contacts"][0]["email"] == "c@guarded.example"
    assert (await analyst.execute(GET, {"id": cid})).ok()["customer"]["contacts"][0][
        "email"
    ] == "c***@guarded.example"
    assert await get(other_rep, cid) is None
    stranger = client(live_stack, new_tenant(), ["admin"])
    assert await get(stranger, cid) is None
    not_found = await stranger.execute(UPDATE, {"input": {"id": cid, "industry": "x"}})
    assert not_found.error_codes() == ["NOT_FOUND"]


async def test_owner_reassignment_is_recorded(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-a", team="east")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="m-e", team="east")
    customer = await create(rep, "Reassigned Co")
    cross_team = await manager.execute(
        ASSIGN, {"input": {"id": customer["id"], "ownerId": "rep-b", "team": "west"}}
    )
    assert cross_team.error_codes() == ["FORBIDDEN"]
    moved = (
        await manager.execute(
            ASSIGN, {"input": {"id": customer["id"], "ownerId": "rep-b", "reason": "holiday"}}
        )
    ).ok()["assignCustomerOwner"]["customer"]
    assert (moved["ownerId"], moved["team"]) == ("rep-b", "east")
    assert await get(rep, customer["id"]) is None  # no longer rep-a's
    entries = await history(manager, customer["id"])
    assert [(e["field"], e["before"], e["after"], e["reason"]) for e in entries] == [
        ("owner_id", '"rep-a"', '"rep-b"', "holiday")
    ]


async def test_soft_delete_and_restore(live_stack: stack.StackConfig) -> None:
    gql = client(live_stack, new_tenant(), ["sales_rep"])
    customer = await create(gql, "Deletable Goods")
    cid = customer["id"]
    deleted = (await gql.execute(DELETE, {"input": {"id": cid, "reason": "test"}})).ok()
    assert deleted["deleteCustomer"]["customer"]["deletedAt"] is not None
    listed = (await gql.execute(LIST, {})).ok()["customers"]
    assert listed["totalCount"] == 0
    with_deleted = (await gql.execute(LIST, {"includeDeleted": True})).ok()["customers"]
    assert with_deleted["totalCount"] == 1
    frozen = await gql.execute(UPDATE, {"input": {"id": cid, "industry": "x"}})
    assert frozen.error_codes() == ["BAD_USER_INPUT"]
    restored = (await gql.execute(RESTORE, {"input": {"id": cid}})).ok()
    assert restored["restoreCustomer"]["customer"]["deletedAt"] is None
    assert (await gql.execute(LIST, {})).ok()["customers"]["totalCount"] == 1
    assert [e["field"] for e in await history(gql, cid)] == ["deleted_at", "deleted_at"]


DUPLICATES = """
query($id: ID, $phone: String) {
  customerDuplicates(customerId: $id, phone: $phone) { reasons customer { id } }
}
"""


async def test_duplicates_and_merge(live_stack: stack.StackConfig) -> None:
    gql = client(live_stack, new_tenant(), ["admin"])
    keep = await create(
        gql, "Keeper Ltd", tags=["a"], contacts=[{"name": "K", "phone": "13900001111"}]
    )
    dup = await create(
        gql,
        "Keeper Holdings",
        tags=["b"],
        contacts=[{"name": "D", "phone": "+86 139 0000 1111", "email": "d@dup.example"}],
    )
    found = (await gql.execute(DUPLICATES, {"id": keep["id"]})).ok()["customerDuplicates"]
    assert found == [{"reasons": ["PHONE"], "customer": {"id": dup["id"]}}]
    by_phone = (await gql.execute(DUPLICATES, {"phone": "139-0000-1111"})).ok()
    assert {d["customer"]["id"] for d in by_phone["customerDuplicates"]} == {
        keep["id"],
        dup["id"],
    }
    (await gql.execute(UPDATE, {"input": {"id": dup["id"], "industry": "x"}})).ok()

    merged = (
        await gql.execute(MERGE, {"input": {"keepId": keep["id"], "mergeId": dup["id"]}})
    ).ok()["mergeCustomers"]["customer"]
    assert merged["tags"] == ["a", "b"]
    assert [c["name"] for c in merged["contacts"]] == ["K", "D"]
    assert [c["isPrimary"] for c in merged["contacts"]] == [True, False]
    tombstone = await get(gql, dup["id"])
    assert tombstone is not None and tombstone["mergedIntoId"] == keep["id"]
    fields = {e["field"] for e in await history(gql, keep["id"])}
    assert {"merged_from", f"merged:{dup['number']}:industry"} <= fields
    listed = (await gql.execute(LIST, {})).ok()["customers"]
    assert [n["node"]["id"] for n in listed["edges"]] == [keep["id"]]
    # Merging again is a no-op; the name of the tombstone is free again.
    (await gql.execute(MERGE, {"input": {"keepId": keep["id"], "mergeId": dup["id"]}})).ok()
    await create(gql, "Keeper Holdings")


MAP = """
query($box: BoundingBoxInput!) {
  customersInBox(box: $box) { name }
  customerCountsByRegion(byCity: true) { province city count }
}
"""


async def test_map_view_box_and_region_counts(live_stack: stack.StackConfig) -> None:
    gql = client(live_stack, new_tenant(), ["sales_rep"])
    await create(
        gql,
        "Hangzhou One",
        region={"province": "浙江省", "city": "杭州"},
        geo={"lat": 30.27, "lng": 120.15},
    )
    await create(
        gql,
        "Hangzhou Two",
        region={"province": "zhejiang", "city": "杭州"},
        geo={"lat": 30.30, "lng": 120.20},
    )
    await create(
        gql,
        "Beijing One",
        region={"province": "北京", "city": "北京"},
        geo={"lat": 39.90, "lng": 116.40},
    )
    data = (
        await gql.execute(
            MAP, {"box": {"south": 29.0, "west": 119.0, "north": 31.0, "east": 121.0}}
        )
    ).ok()
    assert sorted(c["name"] for c in data["customersInBox"]) == ["Hangzhou One", "Hangzhou Two"]
    assert data["customerCountsByRegion"] == [
        {"province": "浙江省", "city": "杭州", "count": 2},
        {"province": "北京市", "city": "北京", "count": 1},
    ]


async def test_filters_and_prefix_search(live_stack: stack.StackConfig) -> None:
    gql = client(live_stack, new_tenant(), ["sales_rep"])
    a = await create(
        gql,
        "Alpha Search",
        urgency="HIGH",
        tags=["vip"],
        riskTags=["BUDGET_SHORT"],
        size={"employees": 500},
        contacts=[{"name": "P", "phone": "13712345678", "email": "pa@alpha.example"}],
    )
    await create(gql, "Beta Search", urgency="LOW", size={"employees": 5})

    async def names(**variables: Any) -> list[str]:
        data = (await gql.execute(LIST, variables)).ok()["customers"]
        return sorted(e["node"]["name"] for e in data["edges"])

    assert await names(search="alp") == ["Alpha Search"]
    assert await names(search="137123") == ["Alpha Search"]
    assert await names(search="PA@ALPHA") == ["Alpha Search"]
    assert await names(search=a["number"]) == ["Alpha Search"]
    assert await names(filter={"urgency": {"eq": "LOW"}}) == ["Beta Search"]
    assert await names(filter={"employees": {"gte": 100}}) == ["Alpha Search"]
    assert await names(filter={"riskTags": {"contains": "BUDGET_SHORT"}}) == ["Alpha Search"]
    assert await names(
        filter={"status": {"eq": "PENDING_REVIEW"}, "tags": {"contains": "vip"}}
    ) == ["Alpha Search"]
