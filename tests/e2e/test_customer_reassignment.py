"""Reassigning a customer moves its records with it, in every service that copies customers.

Through the gateway: rep A's customer gets a follow-up (engagement), an opportunity (quoting)
and a ticket (service desk); an admin reassigns the customer to rep B in another team. Each
service learns the new owner from ``crm.customer.owner_changed`` (the shared customer copy,
``crm_common.customers``), so B then sees all three and A none of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack

from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.test_customer_profile import ASSIGN, client, create

pytestmark = [pytest.mark.e2e]

SEEN = """query($f: ID!, $o: ID!, $t: ID!) {
  followUp(id: $f) { id } opportunity(id: $o) { id } ticket(id: $t) { id } }"""


async def _created(gql: GraphQLClient, mutation: str, root: str, field: str, data: Any) -> Any:
    """Retry until the service has learned the new customer from its event."""

    async def attempt() -> str | None:
        response = await gql.execute(mutation, {"input": data})
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        return str(response.ok()[root][field]["id"])

    return await eventually(attempt, timeout_s=60)


async def _seen(gql: GraphQLClient, ids: dict[str, str]) -> dict[str, bool]:
    data = (await gql.execute(SEEN, ids)).ok()
    return {name: data[name] is not None for name in ("followUp", "opportunity", "ticket")}


async def test_reassigned_customer_takes_its_records_along(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    admin = client(live_stack, tenant, ["admin"], user_id="root")
    rep_a = client(live_stack, tenant, ["sales_rep"], user_id="rep-a", team="north")
    rep_b = client(live_stack, tenant, ["sales_rep"], user_id="rep-b", team="south")
    customer = await create(rep_a, "Moving Accounts Ltd")
    cid = customer["id"]
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()

    followup = await _created(
        admin,
        """mutation($input: ScheduleFollowUpInput!) { scheduleFollowUp(input: $input) {
             followUp { id } } }""",
        "scheduleFollowUp",
        "followUp",
        # Assigned to neither rep: who sees it is decided by the customer's owner alone.
        {
            "customerId": cid,
            "type": "PHONE_CALL",
            "dueAt": due,
            "goal": "renewal",
            "assigneeId": "assistant-1",
        },
    )
    opportunity = await _created(
        rep_a,
        """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) {
             opportunity { id } } }""",
        "createOpportunity",
        "opportunity",
        {"customerId": cid, "name": "Renewal deal"},
    )
    ticket = await _created(
        admin,
        """mutation($input: OpenTicketInput!) { openTicket(input: $input) { ticket { id } } }""",
        "openTicket",
        "ticket",
        {"customerId": cid, "title": "Invoice question"},
    )
    ids = {"f": followup, "o": opportunity, "t": ticket}
    everything = {"followUp": True, "opportunity": True, "ticket": True}
    nothing = {"followUp": False, "opportunity": False, "ticket": False}
    assert await _seen(rep_a, ids) == everything
    assert await _seen(rep_b, ids) == nothing

    moved = (
        await admin.execute(
            ASSIGN, {"input": {"id": cid, "ownerId": "rep-b", "team": "south", "reason": "move"}}
        )
    ).ok()["assignCustomerOwner"]["customer"]
    assert (moved["ownerId"], moved["team"]) == ("rep-b", "south")

    async def b_sees_everything() -> bool:
        return await _seen(rep_b, ids) == everything

    await eventually(b_sees_everything, timeout_s=60, interval_s=0.2)
    assert await _seen(rep_a, ids) == nothing

    # Through the customer as well: B's view of it lists all three, A does not see it at all.
    view = (
        await rep_b.execute(
            """query($id: ID!) { customer(id: $id) { followUps { totalCount }
                 opportunities { totalCount } tickets { totalCount } } }""",
            {"id": cid},
        )
    ).ok()["customer"]
    assert view == {
        "followUps": {"totalCount": 1},
        "opportunities": {"totalCount": 1},
        "tickets": {"totalCount": 1},
    }
    lists = """{ opportunities(first: 10) { totalCount } tickets(first: 10) { totalCount } }"""
    assert (await rep_a.execute(lists)).ok() == {
        "opportunities": {"totalCount": 0},
        "tickets": {"totalCount": 0},
    }
    assert (await rep_b.execute(lists)).ok() == {
        "opportunities": {"totalCount": 1},
        "tickets": {"totalCount": 1},
    }
