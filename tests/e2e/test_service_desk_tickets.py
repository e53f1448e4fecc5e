"""Tickets end to end: dispatch, workflow, SLA table, and SLA breaches reported exactly once
while two service-desk replicas scan the same database."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
import stack

from tests.e2e.client import eventually, new_tenant
from tests.e2e.service_desk_support import (
    ASSIGN_TICKET,
    CHANGE_STATUS,
    OPEN_TICKET,
    SERVICE_DESK,
    SET_DEPARTMENT,
    SET_SLA,
    DeskEvents,
    client,
    create_customer,
    metric,
    open_ticket_when_known,
    second_service_desk,
    ticket_op,
    wait_ready,
)

pytestmark = [pytest.mark.e2e]

REOPEN = """
mutation Reopen($input: ReopenTicketInput!) {
  reopenTicket(input: $input) { ticket { id status resolvedAt history { action } } }
}
"""


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_ticket_workflow_dispatch_and_sla_table(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="boss")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    customer_id = await create_customer(rep, "Workflow Trading Co")
    (await admin.execute(SET_DEPARTMENT, {"input": {"name": "network", "leadId": "lead-1"}})).ok()
    sla = (
        await admin.execute(
            SET_SLA,
            {
                "input": {
                    "targets": [
                        {"priority": "HIGH", "responseSeconds": 600, "resolutionSeconds": 7200}
                    ]
                }
            },
        )
    ).ok()["setSlaPolicy"]["targets"]
    assert {"priority": "HIGH", "responseSeconds": 600, "resolutionSeconds": 7200} in sla
    # Rows not overridden keep their defaults.
    assert {"priority": "LOW", "responseSeconds": 86400, "resolutionSeconds": 604800} in sla

    ticket = await open_ticket_when_known(
        agent,
        customerId=customer_id,
        title="  VPN   drops every hour ",
        description="Since the upgrade the tunnel resets.",
        category="INCIDENT",
        priority="HIGH",
    )
    assert ticket["status"] == "NEW"
    assert ticket["title"] == "VPN drops every hour"
    opened = _at(ticket["createdAt"])
    assert _at(ticket["responseDueAt"]) - opened == timedelta(seconds=600)
    assert _at(ticket["resolutionDueAt"]) - opened == timedelta(seconds=7200)

    ticket_id = ticket["id"]
    # NEW may only be dispatched: a status move is BAD_USER_INPUT and changes nothing.
    refused = await agent.execute(
        CHANGE_STATUS, {"input": {"ticketId": ticket_id, "status": "IN_PROGRESS"}}
    )
    assert refused.error_codes() == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["field"] == "input.status"
    unknown_department = await agent.execute(
        ASSIGN_TICKET,
        {"input": {"ticketId": ticket_id, "department": "nowhere", "assigneeId": "agent-2"}},
    )
    assert unknown_department.error_codes() == ["NOT_FOUND"]

    ticket = await ticket_op(
        agent,
        ASSIGN_TICKET,
        "assignTicket",
        ticketId=ticket_id,
        department="network",
        assigneeId="agent-2",
    )
    assert (ticket["status"], ticket["department"], ticket["assigneeId"]) == (
        "ASSIGNED",
        "network",
        "agent-2",
    )
    assert ticket["respondedAt"] is None
    skip = await agent.execute(
        CHANGE_STATUS, {"input": {"ticketId": ticket_id, "status": "CLOSED"}}
    )
    assert skip.error_codes() == ["BAD_USER_INPUT"]

    for status in ("IN_PROGRESS", "WAITING_ON_CUSTOMER", "IN_PROGRESS"):
        ticket = await ticket_op(
            agent, CHANGE_STATUS, "changeTicketStatus", ticketId=ticket_id, status=status
        )
        assert ticket["status"] == status
    assert ticket["respondedAt"] is not None
    ticket = await ticket_op(
        agent,
        CHANGE_STATUS,
        "changeTicketStatus",
        ticketId=ticket_id,
        status="RESOLVED",
        note="Replaced the router firmware.",
    )
    assert ticket["status"] == "RESOLVED"
    assert ticket["resolution"] == "Replaced the router firmware."

    reopened = (
        await agent.execute(REOPEN, {"input": {"ticketId": ticket_id, "reason": "back again"}})
    ).ok()["reopenTicket"]["ticket"]
    assert (reopened["status"], reopened["resolvedAt"]) == ("IN_PROGRESS", None)
    again = await agent.execute(REOPEN, {"input": {"ticketId": ticket_id}})
    assert again.error_codes() == ["BAD_USER_INPUT"]
    await ticket_op(
        agent, CHANGE_STATUS, "changeTicketStatus", ticketId=ticket_id, status="RESOLVED"
    )
    ticket = await ticket_op(
        agent, CHANGE_STATUS, "changeTicketStatus", ticketId=ticket_id, status="CLOSED"
    )
    assert [h["action"] for h in ticket["history"]] == [
        "OPENED",
        "ASSIGNED",
        "STATUS_CHANGED",
        "STATUS_CHANGED",
        "STATUS_CHANGED",
        "STATUS_CHANGED",
        "REOPENED",
        "STATUS_CHANGED",
        "STATUS_CHANGED",
    ]

    # Filters: the closed ticket is found by status and not by another.
    listing = (
        await agent.execute(
            "query($f: TicketFilter) { tickets(filter: $f) { totalCount edges { node { id } } } }",
            {"f": {"status": {"eq": "CLOSED"}, "priority": {"in": ["HIGH", "URGENT"]}}},
        )
    ).ok()["tickets"]
    assert [e["node"]["id"] for e in listing["edges"]] == [ticket_id]
    none = (
        await agent.execute(
            "query($f: TicketFilter) { tickets(filter: $f) { totalCount } }",
            {"f": {"status": {"eq": "NEW"}}},
        )
    ).ok()["tickets"]
    assert none["totalCount"] == 0

    # Bad input stores nothing.
    bad = await agent.execute(OPEN_TICKET, {"input": {"customerId": customer_id, "title": " "}})
    assert bad.error_codes() == ["BAD_USER_INPUT"]
    assert bad.errors[0]["extensions"]["field"] == "input.title"
    bad_sla = await admin.execute(
        SET_SLA,
        {
            "input": {
                "targets": [{"priority": "LOW", "responseSeconds": 100, "resolutionSeconds": 50}]
            }
        },
    )
    assert bad_sla.error_codes() == ["BAD_USER_INPUT"]
    total = (await agent.execute("{ tickets { totalCount } }")).ok()["tickets"]["totalCount"]
    assert total == 1
    not_admin = await agent.execute(SET_DEPARTMENT, {"input": {"name": "x"}})
    assert not_admin.error_codes() == ["FORBIDDEN"]


async def test_sla_breach_is_reported_once_with_two_replicas(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"])
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    lead = client(live_stack, tenant, ["service_manager"], user_id="lead-7", team="other-team")
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-1")
    customer_id = await create_customer(rep, "Breach Logistics Ltd")
    (await admin.execute(SET_DEPARTMENT, {"input": {"name": "field", "leadId": "lead-7"}})).ok()
    (
        await admin.execute(
            SET_SLA,
            {
                "input": {
                    "targets": [
                        {"priority": "URGENT", "responseSeconds": 1, "resolutionSeconds": 2}
                    ]
                }
            },
        )
    ).ok()

    replica_env = {"SLA_SCAN_INTERVAL_S": "0.2"}
    with second_service_desk(live_stack, **replica_env) as replica:
        await wait_ready(replica)
        # Only the lease holder reports, whichever of the stack's replicas or this one it is.
        urls = [*live_stack.service_urls(SERVICE_DESK), replica]
        before = sum([await metric(u, "servicedesk_sla_breaches_claimed_total") for u in urls])
        tickets = [
            await open_ticket_when_known(
                agent,
                customerId=customer_id,
                title=f"Urgent {i}",
                priority="URGENT",
                department="field",
            )
            for i in range(4)
        ]
        async with DeskEvents(live_stack, tenant) as events:
            breaches = await events.wait_for("ticket_sla_breached", 2 * len(tickets))
            # Both replicas keep scanning: give them several more rounds to (wrongly) repeat.
            await asyncio.sleep(1.5)
            await events.poll()
            breaches = events.of_type("ticket_sla_breached")
        after = sum([await metric(u, "servicedesk_sla_breaches_claimed_total") for u in urls])

    per_ticket = sorted((e.data["ticket_id"], e.data["kind"]) for e in breaches)
    assert per_ticket == sorted(
        (t["id"], kind) for t in tickets for kind in ("RESPONSE", "RESOLUTION")
    )
    assert all(e.data["escalated_to"] == "lead-7" for e in breaches)
    assert after - before == 2 * len(tickets)  # claims over both replicas = events

    ticket = (
        await agent.execute(
            "query($id: ID!) { ticket(id: $id) { escalated escalatedTo responseBreachedAt"
            " resolutionBreachedAt history { action } } }",
            {"id": tickets[0]["id"]},
        )
    ).ok()["ticket"]
    assert ticket["escalated"] and ticket["escalatedTo"] == "lead-7"
    assert ticket["responseBreachedAt"] and ticket["resolutionBreachedAt"]
    assert [h["action"] for h in ticket["history"]].count("SLA_RESPONSE_BREACHED") == 1

    # The department lead sees the escalations although the department is not their team.
    async def escalated() -> int | None:
        data = (
            await lead.execute('{ tickets(filter: {escalatedTo: {eq: "lead-7"}}) { totalCount } }')
        ).ok()
        count: int = data["tickets"]["totalCount"]
        return count if count == len(tickets) else None

    assert await eventually(escalated) == len(tickets)
