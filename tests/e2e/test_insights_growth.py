"""Customer growth by type, region and source, end to end: customers created through the
gateway (customer service → ``customer.created`` with the profile's type, region and source →
insights) show up in the growth report grouped exactly as the test created them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import stack

from crm_common.localtime import DEFAULT_TIME_ZONE, local_date
from tests.e2e.client import eventually, new_tenant
from tests.e2e.insights_support import gateway

pytestmark = [pytest.mark.e2e]

CREATE = """
mutation C($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }
"""
GROWTH = """
query G($filter: ReportFilter) {
  customerGrowth(filter: $filter, bucket: MONTH) {
    total rows { period customerType region source count } csv
  }
}
"""

# (type, province, city, source) of each customer the test creates.
CREATED = [
    ("POTENTIAL", "广东省", "深圳市", "WEBSITE"),
    ("POTENTIAL", "广东省", "广州市", "EXHIBITION"),
    # A new customer is POTENTIAL: its type follows the lifecycle status (issue 17).
    ("POTENTIAL", "广东省", None, "WEBSITE"),
    ("POTENTIAL", "浙江省", "杭州市", "REFERRAL"),
    ("POTENTIAL", "浙江省", None, "WEBSITE"),
    ("POTENTIAL", None, None, None),
]


async def _growth(client: Any, report_filter: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = (await client.execute(GROWTH, {"filter": report_filter or {}})).ok()[
        "customerGrowth"
    ]
    return result


async def test_growth_groups_new_customers_by_type_region_and_source(
    live_stack: stack.StackConfig,
) -> None:
    tenant = new_tenant()
    rep = gateway(live_stack, tenant, ["sales_rep"], user_id="rep-growth")
    analyst = gateway(live_stack, tenant, ["analyst"])
    for n, (kind, province, city, source) in enumerate(CREATED):
        profile: dict[str, Any] = {"name": f"Growth Co {n}", "customerType": kind}
        if province is not None:
            profile["region"] = {"province": province, "city": city}
        if source is not None:
            profile["source"] = source
        (await rep.execute(CREATE, {"input": profile})).ok()

    async def all_counted() -> dict[str, Any] | None:
        growth = await _growth(analyst)
        return growth if growth["total"] == len(CREATED) else None

    growth = await eventually(all_counted, timeout_s=60)
    by_row = Counter[tuple[str, str, str]]()
    for row in growth["rows"]:
        by_row[(row["customerType"], row["region"], row["source"])] += row["count"]
    assert by_row == Counter(
        {
            ("POTENTIAL", "广东省", "WEBSITE"): 2,
            ("POTENTIAL", "广东省", "EXHIBITION"): 1,
            ("POTENTIAL", "浙江省", "REFERRAL"): 1,
            ("POTENTIAL", "浙江省", "WEBSITE"): 1,
            ("POTENTIAL", "UNKNOWN", "UNKNOWN"): 1,
        }
    )
    assert len({row["period"] for row in growth["rows"]}) == 1  # all created this month

    # The region and type filters narrow the same figures.
    guangdong = await _growth(analyst, {"region": "广东省"})
    assert guangdong["total"] == 3
    assert Counter(
        {row["source"]: row["count"] for row in guangdong["rows"] if row["source"] != "WEBSITE"}
    ) == Counter({"EXHIBITION": 1})
    assert sum(r["count"] for r in guangdong["rows"] if r["source"] == "WEBSITE") == 2
    potential_zhejiang = await _growth(analyst, {"region": "浙江省", "customerType": "POTENTIAL"})
    assert sorted((r["region"], r["source"], r["count"]) for r in potential_zhejiang["rows"]) == [
        ("浙江省", "REFERRAL", 1),
        ("浙江省", "WEBSITE", 1),
    ]
    assert "广东省" in growth["csv"] and "EXHIBITION" in growth["csv"]

    # Local days of the tenant (the default zone here) bound the report; a local date and an
    # instant for the same end contradict each other and change nothing.
    today = local_date(datetime.now(UTC), ZoneInfo(DEFAULT_TIME_ZONE))
    around = {"fromDate": str(today - timedelta(days=1)), "toDate": str(today + timedelta(days=1))}
    assert (await _growth(analyst, around))["total"] == len(CREATED)
    later = {"fromDate": str(today + timedelta(days=2))}
    assert (await _growth(analyst, later))["total"] == 0
    both = await analyst.execute(GROWTH, {"filter": {**later, "from": "2026-01-01T00:00:00Z"}})
    assert both.error_codes() == ["BAD_USER_INPUT"]
    assert both.errors[0]["extensions"]["field"] == "filter.fromDate"
