"""The demo seeder (`make seed`) through the real gateway: it fills a tenant, and a second run
with the same seed finds everything already there and creates nothing. The GraphiQL example tabs
and the `graphql` examples of docs/api/README.md then run against the seeded tenant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import seed as seeder
import stack

from crm_gateway.graphiql import EXAMPLE_QUERIES
from tests.e2e.client import GraphQLClient, new_tenant, token_for

pytestmark = [pytest.mark.e2e]

CUSTOMERS = 6
API_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api" / "README.md"
EXPECTED_ERROR = re.compile(r"^# expect: (\w+)")


async def test_seeding_twice_creates_nothing_new(live_stack: stack.StackConfig) -> None:
    tenant = new_tenant()
    first = await seeder.seed(
        live_stack.gateway_url, live_stack.var_dir, tenant=tenant, customers=CUSTOMERS, seed_value=7
    )
    assert first["customers"] == CUSTOMERS
    assert first["customer approvals"] == CUSTOMERS
    assert first["interactions"] >= CUSTOMERS
    planned = seeder.plan(CUSTOMERS, 7, datetime.now(UTC))
    assert first["opportunities"] == sum(len(p.opportunities) for p in planned)
    assert first["tickets"] == sum(len(p.tickets) for p in planned)

    second = await seeder.seed(
        live_stack.gateway_url, live_stack.var_dir, tenant=tenant, customers=CUSTOMERS, seed_value=7
    )
    assert +second == {}, second

    reader = GraphQLClient(live_stack.gateway_url, token_for(live_stack.var_dir, tenant, ["admin"]))
    data = (
        await reader.execute(
            """{ customers(first: 50) { totalCount edges { node { name status
                   contacts { name } } } } }"""
        )
    ).ok()
    assert data["customers"]["totalCount"] == CUSTOMERS
    assert {e["node"]["name"] for e in data["customers"]["edges"]} == {p.name for p in planned}
    assert all(e["node"]["status"] == "LEAD" for e in data["customers"]["edges"])
    assert all(e["node"]["contacts"] for e in data["customers"]["edges"])

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
