"""Churn early warning and potential through federation, and replaying the topics.

A customer is created for real (customer subgraph) so ``Customer.health`` resolves through the
gateway; its engagement and service events are crafted and published into the topics. The
churn score crosses the threshold once (one ``churn_risk_raised``), stays above it without a
second event, and falls back (one ``churn_risk_cleared``). Finally every topic is replayed into
an empty database and the rebuilt read models must equal the live ones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stack

from crm_common.clock import utc_now
from crm_common.events.contracts import engagement as e
from crm_common.events.contracts import servicedesk as s
from crm_common.events.contracts.insights import (
    ChurnRiskCleared,
    ChurnRiskRaised,
    PotentialScored,
)
from crm_common.events.replay import compare
from crm_common.mongo import create_client
from crm_insights.adapters.replay import SPEC, replay_into
from tests.e2e.client import eventually, new_tenant
from tests.e2e.insights_support import (
    EventPublisher,
    gateway,
    insights_events,
    new_id,
    producer_for,
)

pytestmark = [pytest.mark.e2e]

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } }
}
"""
HEALTH = """
query Health($id: ID!) {
  customer(id: $id) {
    id
    health { churnRisk churnWarning potential computedAt modelVersion
             drivers { model name points detail } }
  }
}
"""


async def _health(client: Any, customer_id: str) -> dict[str, Any] | None:
    data = (await client.execute(HEALTH, {"id": customer_id})).ok()
    health: dict[str, Any] | None = (data["customer"] or {}).get("health")
    return health


async def _insights_knows_owner(config: stack.StackConfig, customer_id: str) -> None:
    """The warning names the owner, which insights learns from the customer's own event."""
    client = create_client(config.mongodb_uri, "insights-e2e")
    try:

        async def known() -> bool:
            doc = await client["crm_insights"]["customers"].find_one({"_id": customer_id})
            return bool(doc and doc.get("owner_id"))

        await eventually(known, timeout_s=60, interval_s=0.2)
    finally:
        await client.close()


TENANTS_WRITTEN_HERE: set[str] = set()


async def test_churn_warning_is_raised_and_cleared_once(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    TENANTS_WRITTEN_HERE.add(tenant)
    rep = gateway(live_stack, tenant, ["sales_rep"], user_id="rep-h")
    created = await rep.execute(CREATE_CUSTOMER, {"input": {"name": f"Health {uuid.uuid4()}"}})
    customer = created.ok()["createCustomer"]["customer"]["id"]
    await _insights_knows_owner(live_stack, customer)
    now = utc_now()
    async with producer_for(live_stack) as producer:
        pub = EventPublisher(producer, tenant)
        followups = [new_id("f"), new_id("f")]
        for followup in followups:  # two follow-ups due yesterday, still open: 2 × 10
            await pub.publish(
                e.FollowUpScheduled(
                    followup_id=followup,
                    customer_id=customer,
                    assignee_id="rep-h",
                    type="CALL",
                    priority="HIGH",
                    goal="renewal",
                    due_at=now - timedelta(days=1),
                    origin="MANUAL",
                    created_by="rep-h",
                ),
                customer,
            )
        await pub.publish(  # a recent visit: potential 4 (engagement), no churn change
            e.InteractionLogged(
                interaction_id=new_id("i"),
                customer_id=customer,
                kind="VISIT",
                occurred_at=now - timedelta(days=2),
                owner_id="rep-h",
            ),
            customer,
        )
        tickets = [new_id("t"), new_id("t"), new_id("t")]
        for ticket in tickets[:2]:  # two open urgent tickets: 2 × 10
            await _open_ticket(pub, customer, ticket, now)
        await pub.publish(  # average score 1.5 ≤ 2: 15
            s.SurveyResponded(
                survey_id=new_id("s"),
                customer_id=customer,
                subject_type="TICKET",
                subject_id=tickets[0],
                scores={"quality": 1, "speed": 2},
                responded_at=now - timedelta(days=1),
            ),
            customer,
        )

        async def raised() -> dict[str, Any] | None:
            health = await _health(rep, customer)
            return health if health and health["churnRisk"] == 55 else None

        health = await eventually(raised, timeout_s=60, interval_s=0.3)
        assert health["churnWarning"] is True
        assert health["modelVersion"] == "health-v1"
        churn = {d["name"]: d["points"] for d in health["drivers"] if d["model"] == "churn"}
        assert churn == {
            "interaction_drop": 0,
            "overdue_followups": 20,
            "open_urgent_tickets": 20,
            "low_satisfaction": 15,
            "stalled_opportunities": 0,
        }

        # A third urgent ticket: the driver is capped, the score stays above: no new warning.
        await _open_ticket(pub, customer, tickets[2], now)

        async def rescored() -> bool:
            again = await _health(rep, customer)
            return bool(again and again["computedAt"] > health["computedAt"])

        await eventually(rescored, timeout_s=60, interval_s=0.3)

        # Two tickets resolved and a follow-up done: 10 + 0... = 10 + 10 + 15 = 35 < 50.
        for ticket in tickets[:2]:
            await pub.publish(
                s.TicketResolved(
                    ticket_id=ticket,
                    customer_id=customer,
                    priority="URGENT",
                    resolved_by="agent",
                    within_sla=True,
                    opened_at=now - timedelta(hours=3),
                    resolved_at=now,
                ),
                customer,
            )
        await pub.publish(
            e.FollowUpCompleted(
                followup_id=followups[0],
                customer_id=customer,
                assignee_id="rep-h",
                outcome="done",
                interaction_id=new_id("i"),
                completed_at=now,
            ),
            customer,
        )

        async def cleared() -> dict[str, Any] | None:
            health = await _health(rep, customer)
            return health if health and health["churnRisk"] == 35 else None

        health = await eventually(cleared, timeout_s=60, interval_s=0.3)
        assert health["churnWarning"] is False

    async def both_announced() -> list[Any] | None:
        events = [ev for ev in await insights_events(live_stack, tenant) if ev.key == customer]
        kinds = [ev.type for ev in events if "churn" in ev.type]
        return events if len(kinds) >= 2 else None

    events = await eventually(both_announced, timeout_s=30, interval_s=0.5)
    churn_events = [ev for ev in events if "churn" in ev.type]
    assert [ev.type for ev in churn_events] == [
        ChurnRiskRaised.event_type,
        ChurnRiskCleared.event_type,
    ]
    raised_event = churn_events[0].parse()
    assert isinstance(raised_event, ChurnRiskRaised)
    assert (raised_event.score, raised_event.threshold, raised_event.owner_id) == (55, 50, "rep-h")
    assert raised_event.drivers == ["overdue_followups", "open_urgent_tickets", "low_satisfaction"]
    potential = [ev.parse() for ev in events if ev.type == PotentialScored.event_type]
    scored = [p for p in potential if isinstance(p, PotentialScored)]
    assert scored and len(scored) == len(potential)
    assert scored[-1].score == 4

    # Health is the owner's and the report readers'; a service agent gets null.
    analyst = gateway(live_stack, tenant, ["analyst"])
    assert (await _health(analyst, customer)) is not None
    agent = gateway(live_stack, tenant, ["service_agent"])
    assert (await _health(agent, customer)) is None


async def _open_ticket(pub: EventPublisher, customer: str, ticket: str, now: datetime) -> None:
    await pub.publish(
        s.TicketOpened(
            ticket_id=ticket,
            customer_id=customer,
            category="outage",
            priority="URGENT",
            opened_by="agent",
            response_due_at=now + timedelta(hours=1),
            resolution_due_at=now + timedelta(hours=4),
            opened_at=now - timedelta(hours=3),
        ),
        customer,
    )


async def test_replaying_the_topics_rebuilds_the_same_read_models(
    live_stack: stack.StackConfig,
) -> None:
    """Replay rebuilds everything; the comparison covers the tenants of this module's tests.

    Other modules' tenants are left out: their services' schedulers keep publishing while the
    test runs, so their read models are a moving target.
    """
    tenant = new_tenant()
    TENANTS_WRITTEN_HERE.add(tenant)
    async with producer_for(live_stack) as producer:
        pub = EventPublisher(producer, tenant)
        customer = new_id("cus")
        for n in range(3):
            await pub.publish(
                e.InteractionLogged(
                    interaction_id=new_id("i"),
                    customer_id=customer,
                    kind="VISIT",
                    occurred_at=datetime(2026, 5, 1 + n, tzinfo=UTC),
                    owner_id="rep-r",
                ),
                customer,
            )
    client = create_client(live_stack.mongodb_uri, "insights-e2e")
    live = client["crm_insights"]
    try:

        async def settled() -> bool:
            # This tenant's events are in, and no customer waits for scoring any more.
            seen = await live["interactions"].count_documents({"tenant_id": tenant})
            waiting = await live["customer_health"].count_documents(
                {
                    "tenant_id": {"$in": sorted(TENANTS_WRITTEN_HERE)},
                    "$or": [{"dirty": True}, {"next_rescore_at": {"$lte": utc_now()}}],
                }
            )
            return seen == 3 and waiting == 0

        await eventually(settled, timeout_s=60, interval_s=0.3)
        rebuilt = client[f"crm_insights_replay_{uuid.uuid4().hex[:8]}"]
        try:
            applied = await replay_into(rebuilt, live_stack.kafka_bootstrap)
            assert applied >= 3
            # Every read model, ignoring only the fields the replay's spec names with a reason.
            mine = {"tenant_id": {"$in": sorted(TENANTS_WRITTEN_HERE)}}
            differences, compared = await compare(live, rebuilt, SPEC.read_models, mine)
            assert not differences, "\n".join(str(d) for d in differences)
            assert compared > 3
        finally:
            await client.drop_database(rebuilt.name)
    finally:
        await client.close()
