"""Customer potential (model potential-v2) through the gateway.

A customer is created for real (customer subgraph) by a sales rep; its deals, a quote and
interactions are crafted and published into the topics. Insights scores purchase power, growth
and loyalty with their drivers, announces ``crm.insights.potential_changed``, and the scores
are read through ``Customer.potential`` and ``potentialRanking`` — by the owner, not by another
rep (null / FORBIDDEN), by the rep's manager (team), and by nobody of another tenant.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
import stack

from crm_common.clock import utc_now
from crm_common.events.contracts import engagement as e
from crm_common.events.contracts import quoting as q
from crm_common.events.contracts.insights import PotentialChanged
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
POTENTIAL = """
query Potential($id: ID!) {
  customer(id: $id) {
    id
    potential {
      modelVersion scoredAt
      forecast90Days { currency amountMinor }
      purchasePower { score drivers { name value weight contribution explanation } }
      growth { score drivers { name value weight contribution explanation } }
      loyalty { score drivers { name value weight contribution explanation } }
    }
  }
}
"""
RANKING = """
query Ranking($dimension: PotentialDimension!, $ownerId: String, $team: String, $after: String) {
  potentialRanking(dimension: $dimension, ownerId: $ownerId, team: $team, first: 5,
                   after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { rank score ownerId team customer { id name } } }
  }
}
"""
TEAM = "north"


async def _potential(client: Any, customer_id: str) -> dict[str, Any] | None:
    data = (await client.execute(POTENTIAL, {"id": customer_id})).ok()
    potential: dict[str, Any] | None = (data["customer"] or {}).get("potential")
    return potential


async def _ranked_ids(client: Any, dimension: str, **filters: str) -> list[str]:
    data = (await client.execute(RANKING, {"dimension": dimension, **filters})).ok()
    return [edge["node"]["customer"]["id"] for edge in data["potentialRanking"]["edges"]]


async def test_a_customer_with_deals_and_interactions_is_scored_and_scoped(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = gateway(live_stack, tenant, ["sales_rep"], user_id="rep-p", team=TEAM)
    created = await rep.execute(CREATE_CUSTOMER, {"input": {"name": f"Potential {uuid.uuid4()}"}})
    customer = created.ok()["createCustomer"]["customer"]["id"]
    now = utc_now()
    won, open_deal = new_id("o"), new_id("o")
    async with producer_for(live_stack) as producer:
        pub = EventPublisher(producer, tenant)
        for opportunity, stage, amount in (
            (won, "QUOTE", 30_000_000),
            (open_deal, "QUOTE", 200_000_000),
        ):
            await pub.publish(
                q.OpportunityCreated(
                    opportunity_id=opportunity,
                    customer_id=customer,
                    name="Deal",
                    stage=stage,
                    owner_id="rep-p",
                    team=TEAM,
                    amount_minor=amount,
                    currency="CNY",
                    probability=60,
                    created_at=now - timedelta(days=20),
                ),
                customer,
            )
        await pub.publish(
            q.OpportunityWon(
                opportunity_id=won,
                customer_id=customer,
                owner_id="rep-p",
                amount_minor=30_000_000,
                currency="CNY",
                actor_id="rep-p",
                won_at=now - timedelta(days=5),
            ),
            customer,
        )
        await pub.publish(
            q.QuoteCreated(
                quote_id=new_id("q"),
                quote_number="Q-1",
                version=1,
                opportunity_id=open_deal,
                customer_id=customer,
                owner_id="rep-p",
                actor_id="rep-p",
                at=now - timedelta(days=3),
                total_minor=180_000_000,
                currency="CNY",
                max_discount_bp=0,
                valid_until=date.today() + timedelta(days=30),
            ),
            customer,
        )
        for days_ago in (2, 40):
            await pub.publish(
                e.InteractionLogged(
                    interaction_id=new_id("i"),
                    customer_id=customer,
                    kind="VISIT",
                    occurred_at=now - timedelta(days=days_ago),
                    owner_id="rep-p",
                ),
                customer,
            )

        async def scored() -> dict[str, Any] | None:
            potential = await _potential(rep, customer)
            if potential is None:
                return None
            drivers = {d["name"]: d for d in potential["purchasePower"]["drivers"]}
            complete = (
                drivers["won_revenue"]["value"] == 30_000_000
                and drivers["quote_size"]["value"] == 180_000_000
                and potential["loyalty"]["drivers"][2]["value"] == 2  # regularity: 2 windows
            )
            return potential if complete else None

        potential = await eventually(scored, timeout_s=90, interval_s=0.5)

    assert potential["modelVersion"] == "potential-v2"
    assert potential["forecast90Days"] == [{"currency": "CNY", "amountMinor": "120000000"}]
    for dimension in ("purchasePower", "growth", "loyalty"):
        drivers = potential[dimension]["drivers"]
        assert sum(d["weight"] for d in drivers) == 100
        assert all(d["explanation"] and 0 <= d["contribution"] <= d["weight"] for d in drivers)
        assert potential[dimension]["score"] == round(sum(d["contribution"] for d in drivers))
        assert potential[dimension]["score"] > 0
    pp = {d["name"]: d for d in potential["purchasePower"]["drivers"]}
    assert pp["won_revenue"]["explanation"] == "1 deal won so far, 300,000.00 in total"

    # Announced on crm.insights.v1 (deterministic id: the record's n-th announcement).
    async def announced() -> list[PotentialChanged] | None:
        events = [
            ev.parse()
            for ev in await insights_events(live_stack, tenant)
            if ev.key == customer and ev.type == PotentialChanged.event_type
        ]
        found = [p for p in events if isinstance(p, PotentialChanged)]
        return found or None

    changes = await eventually(announced, timeout_s=30, interval_s=0.5)
    assert all(c.model_version == "potential-v2" and c.owner_id == "rep-p" for c in changes)
    assert changes[-1].team == TEAM

    # The owner ranks it; another rep neither sees it nor may ask for the owner's list.
    assert await _ranked_ids(rep, "PURCHASE_POWER") == [customer]
    other = gateway(live_stack, tenant, ["sales_rep"], user_id="rep-other", team=TEAM)
    assert await _potential(other, customer) is None
    assert await _ranked_ids(other, "GROWTH") == []
    refused = await other.execute(RANKING, {"dimension": "LOYALTY", "ownerId": "rep-p"})
    assert refused.errors and refused.errors[0]["extensions"]["code"] == "FORBIDDEN"
    # The team's manager sees it; a manager of another team neither sees nor lists it.
    manager = gateway(live_stack, tenant, ["sales_manager"], team=TEAM)
    assert await _potential(manager, customer) is not None
    assert await _ranked_ids(manager, "LOYALTY", team=TEAM) == [customer]
    elsewhere = gateway(live_stack, tenant, ["sales_manager"], team="south")
    assert await _potential(elsewhere, customer) is None
    denied = await elsewhere.execute(RANKING, {"dimension": "GROWTH", "team": TEAM})
    assert denied.errors and denied.errors[0]["extensions"]["code"] == "FORBIDDEN"
    # An analyst of the tenant sees it; an analyst of another tenant sees nothing of it.
    analyst = gateway(live_stack, tenant, ["analyst"])
    ranked = (await analyst.execute(RANKING, {"dimension": "PURCHASE_POWER"})).ok()
    assert ranked["potentialRanking"]["totalCount"] == 1
    assert ranked["potentialRanking"]["pageInfo"]["hasNextPage"] is False
    rows = [edge["node"] for edge in ranked["potentialRanking"]["edges"]]
    assert [(r["rank"], r["customer"]["id"], r["ownerId"], r["team"]) for r in rows] == [
        (1, customer, "rep-p", TEAM)
    ]
    assert rows[0]["customer"]["name"].startswith("Potential ")  # federated from customer
    stranger = gateway(live_stack, new_tenant(), ["analyst"])
    assert await _potential(stranger, customer) is None
    assert await _ranked_ids(stranger, "PURCHASE_POWER") == []
    # A cursor it did not give is a clear error.
    bad = await analyst.execute(RANKING, {"dimension": "GROWTH", "after": "nonsense"})
    assert bad.errors and bad.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
