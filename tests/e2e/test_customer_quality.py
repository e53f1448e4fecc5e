"""Issue 17 on the customer profile, end to end through the gateway: data completeness and
the "incomplete" list (a manager sees the team's), the customer type following the lifecycle,
value tiers (thresholds, potential, deal revenue from an accepted quote, filter, map), the
responsible rep per contact and the primary contact first, a customer's files (list, rename,
categorise, soft delete with history, each announced) and deliverables uploaded by the service
desk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import stack

from crm_common.events.contracts import customer as contracts
from crm_common.events.contracts import customer_files as file_contracts
from crm_common.events.contracts.customer import TOPIC as CUSTOMER_TOPIC
from crm_common.events.contracts.quoting import QuoteAccepted
from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.engagement_support import read_topic
from tests.e2e.test_customer_files import Session
from tests.e2e.test_customer_profile import (
    ADD_CONTACT,
    APPROVE,
    CHANGE_STATUS,
    UPDATE,
    client,
    create,
    publish,
)

pytestmark = [pytest.mark.e2e]

QUALITY = """
query($filter: CustomerFilter, $orderBy: CustomerOrderBy) {
  customers(first: 20, filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { node { id name completeness missingItems valueTier customerType status } }
  }
}
"""
ONE = """
query($id: ID!) {
  customer(id: $id) {
    id status customerType completeness missingItems valueTier dealRevenueMinor
    contacts { id name isPrimary ownerId }
  }
}
"""
HISTORY = """
query($id: ID!) { customer(id: $id) { history { field before after actorId reason } } }
"""
THRESHOLDS = """
query { valueTierThresholds { aRevenueMinor aPotentialMinor bRevenueMinor bPotentialMinor } }
"""
SET_THRESHOLDS = """
mutation($input: SetValueTierThresholdsInput!) {
  setValueTierThresholds(input: $input) { retiered thresholds { aRevenueMinor bRevenueMinor } }
}
"""
IN_BOX = """
query { customersInBox(box: {south: 20, west: 100, north: 40, east: 130}) { id valueTier } }
"""
FILES = """
query($id: ID!, $includeDeleted: Boolean, $after: String) {
  customerFiles(customerId: $id, first: 2, after: $after, includeDeleted: $includeDeleted) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id filename kind uploadedBy deletedAt history { action before after actorId } } }
  }
}
"""
FILE_FIELDS = "file { id filename kind deletedAt history { action before after actorId } }"
RENAME = (
    "mutation($input: RenameCustomerFileInput!) { renameCustomerFile(input: $input) { "
    + FILE_FIELDS
    + " } }"
)
CATEGORISE = (
    "mutation($input: CategoriseCustomerFileInput!) { categoriseCustomerFile(input: $input) { "
    + FILE_FIELDS
    + " } }"
)
DELETE_FILE = (
    "mutation($input: DeleteCustomerFileInput!) { deleteCustomerFile(input: $input) { "
    + FILE_FIELDS
    + " } }"
)

COMPLETE = {
    "industry": "tea",
    "region": {"province": "浙江", "city": "杭州"},
    "address": "西湖区 1 号",
    "source": "WEBSITE",
    "size": {"employees": 50},
    "contacts": [{"name": "Li Wei", "phone": "13800000001"}],
}


async def _list(gql: GraphQLClient, filter: dict[str, Any], **kw: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await gql.execute(QUALITY, {"filter": filter, **kw})).ok()[
        "customers"
    ]
    return result


async def _one(gql: GraphQLClient, customer_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await gql.execute(ONE, {"id": customer_id})).ok()["customer"]
    return found


async def test_completeness_and_the_incomplete_list_of_a_team(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep_a = client(live_stack, tenant, ["sales_rep"], user_id="rep-a", team="north")
    rep_b = client(live_stack, tenant, ["sales_rep"], user_id="rep-b", team="north")
    rep_s = client(live_stack, tenant, ["sales_rep"], user_id="rep-s", team="south")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mgr", team="north")

    bare = await create(rep_a, "Bare Co")
    full = await create(rep_a, "Full Co", **COMPLETE)
    partial = await create(rep_b, "Partial Co", industry="steel", source="REFERRAL")
    await create(rep_s, "Southern Bare Co")

    got = await _one(rep_a, bare["id"])
    assert got["completeness"] == 0
    assert got["missingItems"] == [
        "INDUSTRY", "REGION", "ADDRESS", "SOURCE", "CONTACT_PHONE", "SIZE"
    ]  # fmt: skip
    assert (await _one(rep_a, full["id"]))["completeness"] == 100
    assert (await _one(rep_b, partial["id"]))["completeness"] == 33

    # The manager's incomplete list: the team's records only, least complete first.
    listed = await _list(
        manager,
        {"incomplete": True},
        orderBy={"field": "COMPLETENESS", "direction": "ASC"},
    )
    assert [e["node"]["name"] for e in listed["edges"]] == ["Bare Co", "Partial Co"]
    assert (await _list(manager, {"incomplete": False}))["totalCount"] == 1
    missing_address = await _list(manager, {"missingItems": {"contains": "ADDRESS"}})
    assert missing_address["totalCount"] == 2
    assert (await _list(manager, {"completeness": {"gte": 30, "lt": 100}}))["totalCount"] == 1

    # Filling the gaps keeps the figure up to date.
    (await rep_a.execute(UPDATE, {"input": {"id": bare["id"], "industry": "tea"}})).ok()
    assert (await _one(rep_a, bare["id"]))["completeness"] == 16


async def test_the_customer_type_follows_the_lifecycle(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-t", team="north")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mgr", team="north")
    wrong = await rep.execute(
        """mutation { createCustomer(input: {name: "Typed Co", customerType: DEAL}) {
        customer { id } } }"""
    )
    assert wrong.error_codes() == ["BAD_USER_INPUT"]
    assert wrong.errors[0]["extensions"]["field"] == "input.customerType"

    customer = await create(rep, "Lifecycle Co")
    cid = customer["id"]
    assert customer["customerType"] == "POTENTIAL"
    (await manager.execute(APPROVE, {"input": {"id": cid}})).ok()
    for status, kind in (("INTENTION", "INTENTION"), ("DEAL", "DEAL")):
        moved = await rep.execute(CHANGE_STATUS, {"input": {"id": cid, "status": status}})
        assert moved.ok()["changeCustomerStatus"]["customer"]["customerType"] == kind
    contradiction = await rep.execute(UPDATE, {"input": {"id": cid, "customerType": "POTENTIAL"}})
    assert contradiction.error_codes() == ["BAD_USER_INPUT"]
    assert "DEAL" in contradiction.errors[0]["message"]
    long_term = await rep.execute(UPDATE, {"input": {"id": cid, "customerType": "LONG_TERM"}})
    assert long_term.ok()["updateCustomer"]["customer"]["customerType"] == "LONG_TERM"
    churned = await rep.execute(CHANGE_STATUS, {"input": {"id": cid, "status": "CHURNED"}})
    assert churned.ok()["changeCustomerStatus"]["customer"]["customerType"] == "CHURNED"
    entries = (await rep.execute(HISTORY, {"id": cid})).ok()["customer"]["history"]
    type_moves = [e["after"] for e in reversed(entries) if e["field"] == "customer_type"]
    assert type_moves == ['"intention"', '"deal"', '"long_term"', '"churned"']


async def test_value_tiers_from_potential_revenue_and_thresholds(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-v")
    defaults = (await admin.execute(THRESHOLDS)).ok()["valueTierThresholds"]
    assert defaults == {
        "aRevenueMinor": "100000000",
        "aPotentialMinor": "500000000",
        "bRevenueMinor": "10000000",
        "bPotentialMinor": "50000000",
    }
    geo = {"lat": 30.0, "lng": 120.0}
    big = await create(
        admin,
        "Big Budget Co",
        geo=geo,
        budget={"minMinor": "0", "maxMinor": "600000000", "currency": "CNY"},
    )
    small = await create(admin, "Small Co", geo=geo)
    assert (await _one(admin, big["id"]))["valueTier"] == "A"
    assert (await _one(admin, small["id"]))["valueTier"] == "C"

    # Deal revenue from an accepted quote (counted once however often it arrives).
    (await admin.execute(APPROVE, {"input": {"id": small["id"]}})).ok()
    accepted = QuoteAccepted(
        quote_id="q-tier",
        quote_number="Q-T",
        version=1,
        opportunity_id="o-tier",
        customer_id=small["id"],
        owner_id="boss",
        total_minor=20_000_000,
        currency="CNY",
        accepted_at=datetime.now(UTC),
    )
    await publish(live_stack, accepted, tenant, small["id"])

    async def tiered_b() -> dict[str, Any] | None:
        found = await _one(admin, small["id"])
        return found if found["valueTier"] == "B" else None

    found = await eventually(tiered_b)
    assert (found["dealRevenueMinor"], found["status"], found["customerType"]) == (
        "20000000",
        "DEAL",
        "DEAL",
    )
    tiers = {c["id"]: c["valueTier"] for c in (await admin.execute(IN_BOX)).ok()["customersInBox"]}
    assert tiers == {big["id"]: "A", small["id"]: "B"}
    assert (await _list(admin, {"valueTier": {"eq": "B"}}))["totalCount"] == 1

    # Only an admin sets thresholds; bad ones name the field; a change re-tiers.
    wanted = {
        "aRevenueMinor": "15000000",
        "aPotentialMinor": "500000000",
        "bRevenueMinor": "1000000",
        "bPotentialMinor": "50000000",
    }
    assert (await rep.execute(SET_THRESHOLDS, {"input": wanted})).error_codes() == ["FORBIDDEN"]
    bad = await admin.execute(SET_THRESHOLDS, {"input": {**wanted, "bRevenueMinor": "99999999"}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.bRevenueMinor"
    moved = (await admin.execute(SET_THRESHOLDS, {"input": wanted})).ok()
    assert moved["setValueTierThresholds"]["retiered"] == 1
    assert (await _one(admin, small["id"]))["valueTier"] == "A"
    entries = (await admin.execute(HISTORY, {"id": small["id"]})).ok()["customer"]["history"]
    assert [(e["before"], e["after"], e["reason"]) for e in entries if e["field"] == "value_tier"][
        :2
    ] == [('"B"', '"A"', "THRESHOLDS"), ('"C"', '"B"', "REVENUE")]

    # The moves are on the customer topic, and the events carry the consistent type and tier.
    async def tier_events() -> list[Any] | None:
        events = [
            e
            for e in await read_topic(live_stack, contracts.TOPIC)
            if e.tenant_id == tenant and e.key == small["id"]
        ]
        moves = [e for e in events if e.type == contracts.CustomerValueTierChanged.event_type]
        return events if len(moves) == 2 else None

    events = await eventually(tier_events, timeout_s=60)
    moves = [e.parse() for e in events if e.type == contracts.CustomerValueTierChanged.event_type]
    assert [(m.from_tier, m.to_tier, m.cause) for m in moves] == [
        ("C", "B", "REVENUE"),
        ("B", "A", "THRESHOLDS"),
    ]
    assert moves[0].deal_revenue_minor == 20_000_000
    to_deal = next(e.parse() for e in events if e.type == contracts.CustomerStatusChanged.event_type
                   and e.data["to_status"] == "DEAL")  # fmt: skip
    assert isinstance(to_deal, contracts.CustomerStatusChanged) and to_deal.state is not None
    assert (to_deal.state.customer_type, to_deal.state.value_tier) == ("DEAL", "B")

    # Insights counts customers per tier from these events.
    async def counted() -> list[Any] | None:
        counts = (await admin.execute("{ customerCounts { byValueTier { tier count } } }")).ok()
        rows: list[Any] = counts["customerCounts"]["byValueTier"]
        return rows if rows == [{"tier": "A", "count": 2}] else None

    await eventually(counted, timeout_s=60)

    # Another tenant keeps the defaults.
    other = client(live_stack, new_tenant(), ["admin"])
    assert (await other.execute(THRESHOLDS)).ok()["valueTierThresholds"] == defaults


async def test_contacts_have_a_responsible_rep_and_the_primary_comes_first(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-k", team="north")
    manager = client(live_stack, tenant, ["sales_manager"], user_id="mgr", team="north")
    customer = await create(rep, "Contacts Co", contacts=[{"name": "First"}])
    cid = customer["id"]
    added = await rep.execute(
        ADD_CONTACT, {"input": {"customerId": cid, "contact": {"name": "Second"}}}
    )
    added.ok()
    third = await manager.execute(
        ADD_CONTACT,
        {"input": {"customerId": cid, "contact": {"name": "Boss", "isPrimary": True,
                                                   "ownerId": "rep-m"}}},
    )  # fmt: skip
    third.ok()
    contacts = (await _one(rep, cid))["contacts"]
    assert [(c["name"], c["isPrimary"], c["ownerId"]) for c in contacts] == [
        ("Boss", True, "rep-m"),
        ("First", False, "rep-k"),
        ("Second", False, "rep-k"),
    ]
    refused = await rep.execute(
        ADD_CONTACT,
        {"input": {"customerId": cid, "contact": {"name": "X", "ownerId": "rep-z"}}},
    )
    assert refused.error_codes() == ["FORBIDDEN"]
    assert refused.errors[0]["extensions"]["field"] == "input.ownerId"
    assert "customer:assign" in refused.errors[0]["message"]


async def test_customer_files_list_rename_categorise_delete_and_deliverables(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    owner = Session(live_stack, tenant, ["sales_rep"], "rep-f")
    other = Session(live_stack, tenant, ["sales_rep"], "rep-g")
    agent = Session(live_stack, tenant, ["service_agent"], "agent-1")
    customer = await create(owner.gql, "Files Co")
    cid = customer["id"]
    pdf = b"%PDF-1.4 test"
    ids = []
    for name, kind in (("资质.pdf", "QUALIFICATION"), ("contract.pdf", "CONTRACT"),
                       ("misc.pdf", "PROPOSAL")):  # fmt: skip
        uploaded = await owner.upload(
            pdf, "application/pdf", kind=kind, customerId=cid, filename=name
        )
        assert uploaded.status_code == 201, uploaded.text
        ids.append(uploaded.json()["id"])

    # The service desk hands over a deliverable; other kinds are refused with the reason.
    deliverable = await agent.upload(
        pdf, "application/pdf", kind="DELIVERABLE", customerId=cid, filename="report.pdf"
    )
    assert deliverable.status_code == 201, deliverable.text
    refused = await agent.upload(
        pdf, "application/pdf", kind="CONTRACT", customerId=cid, filename="c.pdf"
    )
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    assert "DELIVERABLE" in error["message"]
    assert error["extensions"]["permission"] == "customer:write"

    # Listed newest first, two per page.
    first = (await owner.gql.execute(FILES, {"id": cid})).ok()["customerFiles"]
    assert first["totalCount"] == 4 and first["pageInfo"]["hasNextPage"]
    assert [e["node"]["filename"] for e in first["edges"]] == ["report.pdf", "misc.pdf"]
    after = first["pageInfo"]["endCursor"]
    second = (await owner.gql.execute(FILES, {"id": cid, "after": after})).ok()["customerFiles"]
    assert [e["node"]["filename"] for e in second["edges"]] == ["contract.pdf", "资质.pdf"]
    assert (await agent.gql.execute(FILES, {"id": cid})).ok()["customerFiles"]["totalCount"] == 4
    hidden = await other.gql.execute(FILES, {"id": cid})
    assert hidden.error_codes() == ["FORBIDDEN"]
    assert "customer:read" in hidden.errors[0]["message"]

    renamed = await owner.gql.execute(RENAME, {"input": {"id": ids[2], "filename": "方案.pdf"}})
    assert renamed.ok()["renameCustomerFile"]["file"]["filename"] == "方案.pdf"
    moved = await owner.gql.execute(CATEGORISE, {"input": {"id": ids[2], "kind": "OTHER"}})
    assert moved.ok()["categoriseCustomerFile"]["file"]["kind"] == "OTHER"
    bad = await owner.gql.execute(RENAME, {"input": {"id": ids[2], "filename": "a/b"}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.filename"
    denied = await other.gql.execute(DELETE_FILE, {"input": {"id": ids[2]}})
    assert denied.error_codes() == ["FORBIDDEN"]  # not their customer
    agent_denied = await agent.gql.execute(DELETE_FILE, {"input": {"id": ids[2]}})
    assert agent_denied.error_codes() == ["FORBIDDEN"]
    assert "customer:write" in agent_denied.errors[0]["message"]
    own_deliverable = deliverable.json()["id"]
    agent_renamed = await agent.gql.execute(
        RENAME, {"input": {"id": own_deliverable, "filename": "final report.pdf"}}
    )
    agent_renamed.ok()

    deleted = (await owner.gql.execute(DELETE_FILE, {"input": {"id": ids[2]}})).ok()
    assert deleted["deleteCustomerFile"]["file"]["deletedAt"] is not None
    assert [h["action"] for h in deleted["deleteCustomerFile"]["file"]["history"]] == [
        "RENAMED",
        "RECATEGORISED",
        "DELETED",
    ]
    assert (await owner.download(ids[2])).status_code == 404
    live = (await owner.gql.execute(FILES, {"id": cid})).ok()["customerFiles"]
    assert live["totalCount"] == 3
    on_profile = await owner.gql.execute(
        "query($id: ID!) { customer(id: $id) { files(first: 5) { totalCount "
        "edges { node { filename kind } } } } }",
        {"id": cid},
    )
    files = on_profile.ok()["customer"]["files"]
    assert files["totalCount"] == 3
    assert {e["node"]["kind"] for e in files["edges"]} == {
        "QUALIFICATION",
        "CONTRACT",
        "DELIVERABLE",
    }
    everything = (await owner.gql.execute(FILES, {"id": cid, "includeDeleted": True})).ok()
    assert everything["customerFiles"]["totalCount"] == 4
    again = await owner.gql.execute(RENAME, {"input": {"id": ids[2], "filename": "x.pdf"}})
    assert again.error_codes() == ["BAD_USER_INPUT"]


async def test_file_changes_are_announced(live_stack: stack.StackConfig) -> None:
    """Upload, rename, recategorise and delete of a customer's file each reach
    ``crm.customer.v1`` (keyed by the customer, valid against their contracts); the deleted
    file's bytes are kept until the retention period ends (``content_purge_after``, 30 days)."""
    tenant = new_tenant()
    owner = Session(live_stack, tenant, ["sales_rep"], "rep-files")
    customer = await create(owner.gql, "File Events Ltd")
    pdf = b"%PDF-1.4 proposal " + bytes(range(256)) * 4
    uploaded = await owner.upload(
        pdf, "application/pdf", kind="PROPOSAL", customerId=customer["id"], filename="p.pdf"
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    (await owner.gql.execute(RENAME, {"input": {"id": file_id, "filename": "offer.pdf"}})).ok()
    (await owner.gql.execute(CATEGORISE, {"input": {"id": file_id, "kind": "CONTRACT"}})).ok()
    deleted = (await owner.gql.execute(DELETE_FILE, {"input": {"id": file_id}})).ok()
    assert deleted["deleteCustomerFile"]["file"]["deletedAt"] is not None
    kept = (
        await owner.gql.execute(
            "query($id: ID!) { customerFiles(customerId: $id, includeDeleted: true) {"
            " edges { node { id contentPurgedAt history { action } } } } }",
            {"id": customer["id"]},
        )
    ).ok()["customerFiles"]["edges"]
    assert kept[0]["node"]["contentPurgedAt"] is None  # within the retention period
    assert [h["action"] for h in kept[0]["node"]["history"]] == [
        "RENAMED",
        "RECATEGORISED",
        "DELETED",
    ]

    wanted = [
        file_contracts.CustomerFileAdded.event_type,
        file_contracts.CustomerFileChanged.event_type,
        file_contracts.CustomerFileChanged.event_type,
        file_contracts.CustomerFileDeleted.event_type,
    ]

    async def arrived() -> list[Any] | None:
        events = [
            e
            for e in await read_topic(live_stack, CUSTOMER_TOPIC)
            if e.tenant_id == tenant and e.type.startswith("crm.customer.file_")
        ]
        return events if len(events) >= len(wanted) else None

    events = await eventually(arrived, timeout_s=60)
    assert [e.type for e in events] == wanted  # one key: in order
    parsed = [e.parse() for e in events]
    assert all(e.key == customer["id"] for e in events)
    added, renamed, moved, gone = parsed
    assert isinstance(added, file_contracts.CustomerFileAdded)
    assert (added.file_id, added.filename, added.kind, added.size, added.actor_id) == (
        file_id,
        "p.pdf",
        "PROPOSAL",
        len(pdf),
        "rep-files",
    )
    assert isinstance(renamed, file_contracts.CustomerFileChanged)
    assert (renamed.action, renamed.before, renamed.after) == ("RENAMED", "p.pdf", "offer.pdf")
    assert isinstance(moved, file_contracts.CustomerFileChanged)
    assert (moved.action, moved.before, moved.after, moved.filename) == (
        "RECATEGORISED",
        "PROPOSAL",
        "CONTRACT",
        "offer.pdf",
    )
    assert isinstance(gone, file_contracts.CustomerFileDeleted)
    assert gone.content_purge_after is not None
    assert round((gone.content_purge_after - gone.at).total_seconds()) == 30 * 24 * 3600
