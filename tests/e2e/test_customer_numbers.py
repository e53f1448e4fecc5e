"""Customer numbers are gap-free per tenant and day under concurrent creates."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import stack

from crm_common.localtime import DEFAULT_TIME_ZONE
from tests.e2e.client import new_tenant
from tests.e2e.test_customer_profile import CREATE, client

pytestmark = [pytest.mark.e2e]

PARALLEL = 200


async def test_parallel_creates_get_gap_free_numbers(live_stack: stack.StackConfig) -> None:
    gql = client(live_stack, new_tenant(), ["sales_rep"])
    # A name conflict in the middle of the burst must not burn a number.
    names = [f"Parallel Company {i}" for i in range(PARALLEL)] + ["Parallel Company 7 Ltd"]
    responses = await asyncio.gather(
        *(gql.execute(CREATE, {"input": {"name": name}}) for name in names)
    )
    numbers = sorted(r.data["createCustomer"]["customer"]["number"] for r in responses if r.data)
    conflicts = [r for r in responses if r.error_codes() == ["CONFLICT"]]
    assert len(conflicts) == 1 and len(numbers) == PARALLEL
    # A new tenant has the default time zone: numbers embed its local date.
    day = datetime.now(ZoneInfo(DEFAULT_TIME_ZONE)).strftime("%Y%m%d")
    assert numbers == [f"CUS{day}{i:03d}" for i in range(1, PARALLEL + 1)]
