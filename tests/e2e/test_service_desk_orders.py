"""Service orders end to end: opened once from a (twice delivered) quote acceptance, worked
through the four stages with deliverables, delivered, and followed by a survey."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import stack

from crm_common.events.contracts.customer import CustomerMerged
from crm_common.events.envelope import CloudEvent
from tests.e2e.client import GraphQLClient, eventually, new_tenant
from tests.e2e.service_desk_support import (
    DeskEvents,
    client,
    create_customer,
    open_ticket_when_known,
    publish,
    quote_accepted_event,
)

pytestmark = [pytest.mark.e2e]

ORDER_FIELDS = """
id customerId title source quoteId quoteNumber amount { amountMinor currency } ownerId team
deliveryStart deliveryEnd status currentStage progress deliveredAt
stages { stage progress startedAt completedAt deliverables { name kind reference addedBy } }
"""
CUSTOMER_ORDERS = f"""
query($id: ID!) {{
  customer(id: $id) {{
    id serviceOrders(first: 10) {{ totalCount edges {{ node {{ {ORDER_FIELDS} }} }} }}
    surveys(first: 10) {{ totalCount edges {{ node {{ subjectType subjectId status }} }} }}
  }}
}}
"""
OPEN_ORDER = f"""
mutation($input: OpenServiceOrderInput!) {{
  openServiceOrder(input: $input) {{ serviceOrder {{ {ORDER_FIELDS} }} }}
}}
"""
ADVANCE = f"""
mutation($input: AdvanceServiceOrderInput!) {{
  advanceServiceOrder(input: $input) {{ serviceOrder {{ {ORDER_FIELDS} }} }}
}}
"""
PROGRESS = f"""
mutation($input: ReportStageProgressInput!) {{
  reportStageProgress(input: $input) {{ serviceOrder {{ {ORDER_FIELDS} }} }}
}}
"""
DELIVERABLE = f"""
mutation($input: AddDeliverableInput!) {{
  addDeliverable(input: $input) {{ serviceOrder {{ {ORDER_FIELDS} }} }}
}}
"""


async def _order_op(agent: GraphQLClient, query: str, **input: object) -> dict[str, Any]:
    data = (await agent.execute(query, {"input": input})).ok()
    order: dict[str, Any] = next(iter(data.values()))["serviceOrder"]
    return order


async def test_duplicate_quote_accepted_opens_one_order_then_delivery(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-alice")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    customer_id = await create_customer(rep, "Quote Accepted Manufacturing")

    accepted = quote_accepted_event(tenant, customer_id, owner_id="rep-alice")
    # Another quote of the same customer: same key, so same partition, so it is consumed
    # after the duplicates. Once its order exists, every duplicate has been handled.
    marker = quote_accepted_event(tenant, customer_id, owner_id="rep-alice")
    # The same event delivered twice, plus a re-emission of it under a new event id (as a
    # producer retrying after a crash would): still one order for the quote.
    again = replace(accepted, id=accepted.id + "-again")
    await publish(live_stack, [accepted, accepted, again, marker])

    async def both_orders_visible_to_rep() -> dict[str, Any] | None:
        customer = (await rep.execute(CUSTOMER_ORDERS, {"id": customer_id})).ok()["customer"]
        orders: dict[str, Any] = customer["serviceOrders"]
        quotes = {e["node"]["quoteId"] for e in orders["edges"]}
        return orders if marker.data["quote_id"] in quotes else None

    orders = await eventually(both_orders_visible_to_rep)
    assert orders["totalCount"] == 2
    async with DeskEvents(live_stack, tenant) as events:
        await events.wait_for("service_order_opened", 2)
    assert sorted(e.data["quote_id"] for e in events.of_type("service_order_opened")) == sorted(
        [accepted.data["quote_id"], marker.data["quote_id"]]
    )
    order = next(
        e["node"] for e in orders["edges"] if e["node"]["quoteId"] == accepted.data["quote_id"]
    )
    assert order["source"] == "QUOTE"
    assert order["ownerId"] == "rep-alice"
    assert order["amount"] == {"amountMinor": "12345600", "currency": "CNY"}
    assert (order["status"], order["currentStage"], order["progress"]) == ("OPEN", None, 0)
    order_id = order["id"]

    # The sales rep reads it but does not work it.
    refused = await rep.execute(ADVANCE, {"input": {"orderId": order_id}})
    assert refused.error_codes() == ["FORBIDDEN"]

    # Progress before any stage started: told which stage to start, and nothing changes.
    too_early = await agent.execute(
        PROGRESS,
        {"input": {"orderId": order_id, "stage": "REQUIREMENTS_RESEARCH", "progress": 10}},
    )
    assert too_early.error_codes() == ["BAD_USER_INPUT"]
    ext = too_early.errors[0]["extensions"]
    assert (ext["field"], ext["reason"], ext["nextStage"]) == (
        "input.stage",
        "NO_STAGE_STARTED",
        "REQUIREMENTS_RESEARCH",
    )
    assert "start stage REQUIREMENTS_RESEARCH first" in too_early.errors[0]["message"]

    order = await _order_op(agent, ADVANCE, orderId=order_id)
    assert (order["status"], order["currentStage"]) == ("IN_DELIVERY", "REQUIREMENTS_RESEARCH")
    order = await _order_op(
        agent, PROGRESS, orderId=order_id, stage="REQUIREMENTS_RESEARCH", progress=60
    )
    assert order["progress"] == 15
    wrong_stage = await agent.execute(
        PROGRESS, {"input": {"orderId": order_id, "stage": "BUILD_AND_TEST", "progress": 10}}
    )
    assert wrong_stage.error_codes() == ["BAD_USER_INPUT"]
    await _order_op(
        agent,
        DELIVERABLE,
        orderId=order_id,
        stage="REQUIREMENTS_RESEARCH",
        name="Requirements spec",
        kind="LINK",
        reference="https://docs.example.com/spec",
    )
    bad_link = await agent.execute(
        DELIVERABLE,
        {
            "input": {
                "orderId": order_id,
                "stage": "SOLUTION_DESIGN",
                "name": "x",
                "kind": "LINK",
                "reference": "not a url",
            }
        },
    )
    assert bad_link.error_codes() == ["BAD_USER_INPUT"]
    assert bad_link.errors[0]["extensions"]["field"] == "input.reference"

    for expected in ("SOLUTION_DESIGN", "BUILD_AND_TEST", "ACCEPTANCE_AND_DELIVERY"):
        order = await _order_op(agent, ADVANCE, orderId=order_id)
        assert order["currentStage"] == expected
    early = await agent.execute(ADVANCE, {"input": {"orderId": order_id}})
    assert early.error_codes() == ["BAD_USER_INPUT"]  # no acceptance record yet
    await _order_op(
        agent,
        DELIVERABLE,
        orderId=order_id,
        stage="ACCEPTANCE_AND_DELIVERY",
        name="Signed acceptance",
        kind="FILE",
        reference="66f0c0ffee0123456789abcd",
    )
    order = await _order_op(agent, ADVANCE, orderId=order_id)
    assert (order["status"], order["progress"], order["currentStage"]) == ("DELIVERED", 100, None)
    assert [s["progress"] for s in order["stages"]] == [100, 100, 100, 100]
    assert order["stages"][0]["deliverables"][0]["reference"] == "https://docs.example.com/spec"

    async with DeskEvents(live_stack, tenant) as events:
        stage_changes = await events.wait_for("service_order_stage_changed", 4)
        delivered = await events.wait_for("service_order_delivered", 1)
    assert [e.data["to_stage"] for e in stage_changes] == [
        "REQUIREMENTS_RESEARCH",
        "SOLUTION_DESIGN",
        "BUILD_AND_TEST",
        "ACCEPTANCE_AND_DELIVERY",
    ]
    assert delivered[0].key == customer_id

    # Delivery sends the satisfaction survey (from the delivered event).
    async def survey_sent() -> list[dict[str, str]] | None:
        customer = (await rep.execute(CUSTOMER_ORDERS, {"id": customer_id})).ok()["customer"]
        found: list[dict[str, str]] = [e["node"] for e in customer["surveys"]["edges"]]
        return found or None

    assert await eventually(survey_sent) == [
        {"subjectType": "SERVICE_ORDER", "subjectId": order_id, "status": "SENT"}
    ]


async def test_orders_by_hand_validate_and_stay_in_their_tenant(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-bob")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1", team="delivery")
    customer_id = await create_customer(rep, "Manual Order Trading")

    async def open_when_known() -> dict[str, Any] | None:
        response = await agent.execute(
            OPEN_ORDER,
            {
                "input": {
                    "customerId": customer_id,
                    "title": "On-site installation",
                    "deliveryStart": "2026-12-01",
                    "deliveryEnd": "2026-12-20",
                }
            },
        )
        if response.error_codes() in (["NOT_FOUND"], ["CUSTOMER_NOT_READY"]):
            return None
        order: dict[str, Any] = response.ok()["openServiceOrder"]["serviceOrder"]
        return order

    order = await eventually(open_when_known)
    assert (order["source"], order["ownerId"], order["team"]) == ("MANUAL", "agent-1", "delivery")
    assert (order["deliveryStart"], order["deliveryEnd"]) == ("2026-12-01", "2026-12-20")

    backwards = await agent.execute(
        OPEN_ORDER,
        {
            "input": {
                "customerId": customer_id,
                "title": "Backwards",
                "deliveryStart": "2026-12-20",
                "deliveryEnd": "2026-12-01",
            }
        },
    )
    assert backwards.error_codes() == ["BAD_USER_INPUT"]
    assert backwards.errors[0]["extensions"]["field"] == "input.deliveryEnd"
    unknown = await agent.execute(
        OPEN_ORDER, {"input": {"customerId": "no-such-customer", "title": "Ghost"}}
    )
    assert unknown.error_codes() == ["NOT_FOUND"]
    analyst = client(live_stack, tenant, ["analyst"])
    forbidden = await analyst.execute(
        OPEN_ORDER, {"input": {"customerId": customer_id, "title": "Not mine to open"}}
    )
    assert forbidden.error_codes() == ["FORBIDDEN"]
    listing = (await analyst.execute("{ serviceOrders { totalCount } }")).ok()
    assert listing["serviceOrders"]["totalCount"] == 1  # nothing stored by the refusals

    stranger = client(live_stack, new_tenant(), ["admin"])
    assert (
        await stranger.execute(
            "query($id: ID!) { serviceOrder(id: $id) { id } }", {"id": order["id"]}
        )
    ).ok()["serviceOrder"] is None


async def test_customer_merge_repoints_service_records(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    rep = client(live_stack, tenant, ["sales_rep"], user_id="rep-merge")
    agent = client(live_stack, tenant, ["service_agent"], user_id="agent-1")
    kept = await create_customer(rep, "Merge Keeper Ltd")
    merged = await create_customer(rep, "Duplicate Entry Trading")
    ticket = await open_ticket_when_known(agent, customerId=merged, title="Duplicate's ticket")
    merge = CloudEvent.new(
        CustomerMerged(
            kept_id=kept, merged_id=merged, actor_id="rep-merge", merged_at=datetime.now(UTC)
        ),
        source="crm/customer",
        tenant_id=tenant,
        key=kept,
    )
    await publish(live_stack, [merge, merge])

    async def repointed() -> int | None:
        data = (
            await agent.execute(
                "query($id: ID!) { ticket(id: $id) { customerId } }", {"id": ticket["id"]}
            )
        ).ok()
        return 1 if data["ticket"]["customerId"] == kept else None

    await eventually(repointed)
    kept_tickets = (
        await rep.execute(
            "query($id: ID!) { customer(id: $id) { tickets { totalCount } } }", {"id": kept}
        )
    ).ok()["customer"]["tickets"]
    assert kept_tickets["totalCount"] == 1
