"""The demo seeder (`make seed`) through the real gateway: it fills a tenant, and a second run
with the same seed finds everything already there and creates nothing. The GraphiQL example tabs
and the `graphql` examples of docs/api/README.md then run against the seeded tenant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import seed as seeder
import stack

from crm_gateway.http.graphiql import EXAMPLE_QUERIES
from tests.e2e.client import GraphQLClient, eventually, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

CUSTOMERS = 6
SEED = 11  # a seed whose plan has answered surveys, registrations and lifecycle moves
API_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api" / "README.md"
EXPECTED_ERROR = re.compile(r"^# expect: (\w+)")
POTENTIAL_TOP = """{ potentialRanking(dimension: PURCHASE_POWER, first: 3) { totalCount
    edges { node { score customer { name }
                   potential { modelVersion purchasePower { score } } } } } }"""
SERVICE_DESK = next(c for c in stack.SERVICES if c.name == "service-desk")


async def test_seeding_twice_creates_nothing_new(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    desk_url = live_stack.service_url(SERVICE_DESK)
    first = await seeder.seed(
        live_stack.gateway_url,
        live_stack.var_dir,
        tenant=tenant,
        customers=CUSTOMERS,
        seed_value=SEED,
        desk_url=desk_url,
    )
    assert first["customers"] == CUSTOMERS
    assert first["customer approvals"] == CUSTOMERS
    assert first["interactions"] >= CUSTOMERS
    planned = seeder.plan(CUSTOMERS, SEED, datetime.now(UTC))
    assert first["opportunities"] == sum(len(p.opportunities) for p in planned)
    assert first["tickets"] == sum(len(p.tickets) for p in planned)
    resolved = [s for p in planned for s in p.resolved_tickets.values()]
    answered = [s for s in resolved if s is not None]
    registered = [p for p in planned if p.activity is not None]
    assert answered and registered and any(p.lifecycle != "LEAD" for p in planned), "pick a seed"
    assert first["ticket resolutions"] == len(resolved)
    assert first["survey responses"] == len(answered)
    by_phone = [s for s in answered if sum(s) % 3 == 0]  # the seeder's rule for phone answers
    assert first["survey responses by phone"] == len(by_phone)
    assert first["improvement tasks"] == 3
    assert first["role permission changes"] == 1  # the demo tenant shapes its roles
    assert first["activities"] == len(seeder.ACTIVITIES)
    assert first["activity registrations"] == len(registered)
    # Stage assessments of open deals (LOW fit: the customer's observation period).
    assessed = [o for p in planned for o in p.opportunities if o.assessment is not None]
    assert assessed, "pick a seed"
    assert first["opportunity assessments"] == len(assessed)
    trained = [p for p in planned if p.activity == seeder.PAST_ACTIVITY]
    assert first["attendance records"] == len(trained)
    # A duplicate in its observation period merged into one customer (the cadence carried).
    assert (first["merge demo duplicates"], first["merges"]) == (1, 1)

    second = await seeder.seed(
        live_stack.gateway_url,
        live_stack.var_dir,
        tenant=tenant,
        customers=CUSTOMERS,
        seed_value=SEED,
        desk_url=desk_url,
    )
    assert +second == {}, second

    reader = GraphQLClient(live_stack.gateway_url, token_for(live_stack.var_dir, tenant, ["admin"]))
    data = (
        await reader.execute(
            """{ customers(first: 50) { totalCount edges { node { name status
                   engagementCadence cadenceHistory { mergedFrom }
                   contacts { name } activities(first: 5) { edges { node { activityId } } }
                   surveys(first: 5) { edges { node { status scores { score } } } } } } } }"""
        )
    ).ok()
    customers = {e["node"]["name"]: e["node"] for e in data["customers"]["edges"]}
    assert data["customers"]["totalCount"] == CUSTOMERS
    assert set(customers) == {p.name for p in planned}
    assert all(node["contacts"] for node in customers.values())
    carried = [n for n in customers.values() if any(h["mergedFrom"] for h in n["cadenceHistory"])]
    assert [n["engagementCadence"] for n in carried] == ["OBSERVATION"]
    for p in planned:
        node = customers[p.name]
        assert node["status"] == p.lifecycle, (p.name, node["status"])
        assert len(node["activities"]["edges"]) == (p.activity is not None)
        statuses = sorted(e["node"]["status"] for e in node["surveys"]["edges"])
        expected_statuses = sorted(
            "SENT" if s is None else "RESPONDED" for s in p.resolved_tickets.values()
        )
        assert statuses == expected_statuses, (p.name, statuses)
    quotes = (
        await reader.execute("{ quotes(first: 50) { edges { node { status validUntil } } } }")
    ).ok()
    sent_until_today = [
        e["node"]
        for e in quotes["quotes"]["edges"]
        if e["node"]["status"] == "SENT"
        and e["node"]["validUntil"] == datetime.now(UTC).date().isoformat()
    ]
    expiring = [o for p in planned for o in p.opportunities if o.quote_status == "EXPIRED"]
    assert len(sent_until_today) == len(expiring)

    # The demo shows one holiday campaign (touchCampaigns), a greeting per deal customer.
    campaigns = (
        await reader.execute(
            "{ touchCampaigns(first: 10) { edges { node { title kind customers"
            " progress { planned } } } } }"
        )
    ).ok()["touchCampaigns"]["edges"]
    holiday = [c["node"] for c in campaigns if c["node"]["title"] == seeder.HOLIDAY_TOUCH]
    assert len(holiday) == 1 and holiday[0]["kind"] == "HOLIDAY_CARE"
    assert holiday[0]["progress"]["planned"] == holiday[0]["customers"]
    assert holiday[0]["customers"] == first["holiday care touches"]

    # Insights scores every seeded customer's potential (potential-v2), budgets and sizes too.
    async def all_scored() -> Any:
        page = (await reader.execute(POTENTIAL_TOP)).ok()["potentialRanking"]
        return page if page["totalCount"] == CUSTOMERS else None

    ranking = await eventually(all_scored, timeout_s=120, interval_s=1)
    top = ranking["edges"][0]["node"]
    assert top["customer"]["name"] in customers
    assert top["potential"]["modelVersion"] == "potential-v2"
    assert top["score"] == top["potential"]["purchasePower"]["score"] > 0

    # The GraphiQL tabs and the guide's examples work on the seeded data.
    for query in EXAMPLE_QUERIES:
        assert (await reader.execute(query)).ok()
    customer360 = (await reader.execute(EXAMPLE_QUERIES[2])).ok()["customers"]["edges"]
    assert any(e["node"]["interactions"]["edges"] for e in customer360)
    board = (await reader.execute(EXAMPLE_QUERIES[1])).ok()["opportunityBoard"]
    assert sum(column["count"] for column in board) == first["opportunities"]

    examples = re.findall(r"```graphql\n(.*?)```", API_GUIDE.read_text(), flags=re.DOTALL)
    assert len(examples) >= 5
    for example in examples:
        response = await reader.execute(example)
        expected = EXPECTED_ERROR.match(example)
        if expected:
            assert response.error_codes() == [expected.group(1)], response.body
            assert response.errors[0]["extensions"]["field"], response.body
        else:
            assert response.ok(), example
