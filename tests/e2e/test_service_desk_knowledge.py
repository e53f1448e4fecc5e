"""Knowledge base and permissions end to end: keyword search without a text index, promotion
of a resolved ticket, and who sees which service data (checked through the gateway)."""

from __future__ import annotations

from typing import Any

import pytest
import stack

from tests.e2e.client import GraphQLClient, new_tenant
from tests.e2e.service_desk_support import (
    ASSIGN_TICKET,
    CHANGE_STATUS,
    OPEN_TICKET,
    SET_DEPARTMENT,
    client,
    create_customer,
    open_ticket_when_known,
    ticket_op,
)

pytestmark = [pytest.mark.e2e]

PUBLISH = """
mutation($input: PublishArticleInput!) {
  publishArticle(input: $input) { article { id title kind tags authorId sourceTicketId } }
}
"""
PROMOTE = """
mutation($input: PromoteTicketInput!) {
  promoteTicketToArticle(input: $input) { article { id title body kind tags sourceTicketId } }
}
"""
SEARCH = """
query($q: String, $tags: [String!], $kind: ArticleKind) {
  searchArticles(query: $q, tags: $tags, kind: $kind, first: 20) {
    totalCount edges { node { id title } }
  }
}
"""


async def _titles(reader: GraphQLClient, **variables: Any) -> list[str]:
    data = (await reader.execute(SEARCH, variables)).ok()["searchArticles"]
    return sorted(e["node"]["title"] for e in data["edges"])


async def test_knowledge_base_search_and_ticket_promotion(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    analyst = client(live_stack, tenant, ["analyst"])
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    articles = [
        (
            "VPN tunnel resets after firmware upgrade",
            "Roll back the router firmware.",
            "SOLUTION",
            ["network", "vpn"],
        ),
        (
            "Printer driver crash on Windows",
            "Install the signed driver package.",
            "TYPICAL_PROBLEM",
            ["printer"],
        ),
        ("路由器故障排查", "检查路由器固件版本并重启。", "SOLUTION", ["network"]),
    ]
    for title, body, kind, tags in articles:
        await agent.execute(
            PUBLISH, {"input": {"title": title, "body": body, "kind": kind, "tags": tags}}
        )
    assert await _titles(analyst, q="FIRMWARE router") == [
        "VPN tunnel resets after firmware upgrade"
    ]
    assert await _titles(analyst, q="路由器") == ["路由器故障排查"]
    assert await _titles(analyst, tags=["Network"]) == sorted(
        ["VPN tunnel resets after firmware upgrade", "路由器故障排查"]
    )
    assert await _titles(analyst, q="driver", kind="SOLUTION") == []
    assert await _titles(analyst, q="firmware printer") == []  # every word must match
    assert await _titles(analyst, q='.*" $where') == []  # operators stay text
    empty = await analyst.execute(SEARCH, {"q": "  !!  "})
    assert empty.error_codes() == ["BAD_USER_INPUT"]
    refused = await analyst.execute(
        PUBLISH, {"input": {"title": "x", "body": "y", "kind": "SOLUTION"}}
    )
    assert refused.error_codes() == ["FORBIDDEN"]

    customer_id = await create_customer(rep, "Knowledge Source Co")
    (await admin.execute(SET_DEPARTMENT, {"input": {"name": "support"}})).ok()
    ticket = await open_ticket_when_known(
        agent,
        customerId=customer_id,
        title="Scanner shows error E42",
        description="The scanner stops with E42 after warm-up.",
        category="INCIDENT",
    )
    too_early = await agent.execute(PROMOTE, {"input": {"ticketId": ticket["id"]}})
    assert too_early.error_codes() == ["BAD_USER_INPUT"]
    await ticket_op(
        agent,
        ASSIGN_TICKET,
        "assignTicket",
        ticketId=ticket["id"],
        department="support",
        assigneeId="agent-1",
    )
    await ticket_op(
        agent,
        CHANGE_STATUS,
        "changeTicketStatus",
        ticketId=ticket["id"],
        status="RESOLVED",
        note="Clean the lamp sensor; E42 is a calibration fault.",
    )
    promoted = (
        await agent.execute(PROMOTE, {"input": {"ticketId": ticket["id"], "tags": ["scanner"]}})
    ).ok()["promoteTicketToArticle"]["article"]
    assert promoted["sourceTicketId"] == ticket["id"]
    assert promoted["kind"] == "TYPICAL_PROBLEM"
    assert "calibration fault" in promoted["body"]
    assert promoted["tags"] == ["scanner", "incident"]
    twice = await agent.execute(PROMOTE, {"input": {"ticketId": ticket["id"]}})
    assert twice.error_codes() == ["CONFLICT"]
    assert await _titles(rep, q="e42 calibration") == ["Scanner shows error E42"]


async def test_who_sees_which_service_data(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    alice = client(live_stack, tenant, ["sales_rep"], user_id="alice")
    bob = client(live_stack, tenant, ["sales_rep"], user_id="bob")
    sales_lead = client(live_stack, tenant, ["sales_manager"], user_id="carol", team="east")
    network_lead = client(live_stack, tenant, ["service_manager"], user_id="nina", team="network")
    analyst = client(live_stack, tenant, ["analyst"])
    for name in ("network", "billing"):
        (await admin.execute(SET_DEPARTMENT, {"input": {"name": name}})).ok()
    alices = await create_customer(alice, "Alice Account Ltd")
    bobs = await create_customer(bob, "Bob Account Ltd")
    on_alice = await open_ticket_when_known(
        agent, customerId=alices, title="Alice's outage", department="network"
    )
    on_bob = await open_ticket_when_known(
        agent, customerId=bobs, title="Bob's invoice", department="billing"
    )

    async def visible(reader: GraphQLClient) -> list[str]:
        data = (await reader.execute("{ tickets(first: 50) { edges { node { id } } } }")).ok()
        return sorted(e["node"]["id"] for e in data["tickets"]["edges"])

    both = sorted([on_alice["id"], on_bob["id"]])
    assert await visible(agent) == both
    assert await visible(analyst) == both
    assert await visible(alice) == [on_alice["id"]]
    assert await visible(bob) == [on_bob["id"]]
    assert await visible(network_lead) == [on_alice["id"]]  # the network department's only
    assert await visible(sales_lead) == []  # neither customer is in team east

    one = "query($id: ID!) { ticket(id: $id) { id } }"
    assert (await bob.execute(one, {"id": on_alice["id"]})).ok()["ticket"] is None
    customer_tickets = """
    query($id: ID!) { customer(id: $id) { tickets { totalCount } } }
    """
    seen = (await alice.execute(customer_tickets, {"id": alices})).ok()["customer"]
    assert seen["tickets"]["totalCount"] == 1
    unseen = (await bob.execute(customer_tickets, {"id": alices})).ok()["customer"]
    assert unseen is None or unseen["tickets"]["totalCount"] == 0

    # Reading is not working: sales reps and analysts may not open or move tickets.
    for reader in (alice, analyst):
        denied = await reader.execute(
            OPEN_TICKET, {"input": {"customerId": alices, "title": "Nope"}}
        )
        assert denied.error_codes() == ["FORBIDDEN"]
    move = await alice.execute(
        ASSIGN_TICKET,
        {"input": {"ticketId": on_alice["id"], "department": "network", "assigneeId": "x"}},
    )
    assert move.error_codes() == ["FORBIDDEN"]
    # The service manager works the team's tickets, but not other departments'.
    await ticket_op(
        network_lead,
        ASSIGN_TICKET,
        "assignTicket",
        ticketId=on_alice["id"],
        department="network",
        assigneeId="agent-1",
    )
    other = await network_lead.execute(
        ASSIGN_TICKET,
        {"input": {"ticketId": on_bob["id"], "department": "billing", "assigneeId": "x"}},
    )
    assert other.error_codes() == ["NOT_FOUND"]

    stranger = client(live_stack, new_tenant(), ["admin"])
    assert await visible(stranger) == []
    assert (await stranger.execute(one, {"id": on_alice["id"]})).ok()["ticket"] is None
