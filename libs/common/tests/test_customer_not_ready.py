"""A write naming a customer the copy lacks waits briefly, then answers CUSTOMER_NOT_READY."""

from __future__ import annotations

import time
import uuid

import pytest

from crm_common.customers.copies import arriving_customer, could_be_customer_id
from crm_common.errors import CustomerNotReady, ErrorCode, NotFound


class ArrivesAfter:
    """A copy that holds the customer from the n-th lookup on."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    async def get(self, customer_id: str) -> str | None:
        self.calls += 1
        return customer_id if self.calls >= self.n else None


async def test_present_at_once_needs_one_lookup() -> None:
    copy = ArrivesAfter(1)
    cid = str(uuid.uuid4())
    assert await arriving_customer(copy.get, cid, field="input.customerId") == cid
    assert copy.calls == 1


async def test_waits_for_a_customer_arriving_a_moment_later() -> None:
    copy = ArrivesAfter(4)
    cid = str(uuid.uuid4())
    found = await arriving_customer(copy.get, cid, field="f", wait_s=2.0, poll_s=0.01)
    assert found == cid and copy.calls == 4


async def test_still_missing_is_retryable_not_found() -> None:
    copy = ArrivesAfter(10_000)
    cid = str(uuid.uuid4())
    started = time.monotonic()
    with pytest.raises(CustomerNotReady) as raised:
        await arriving_customer(copy.get, cid, field="input.customerId", wait_s=0.2, poll_s=0.02)
    waited = time.monotonic() - started
    assert 0.2 <= waited < 1.0  # bounded
    ext = raised.value.extensions()
    assert ext["code"] == ErrorCode.CUSTOMER_NOT_READY.value == "CUSTOMER_NOT_READY"
    assert ext["retryable"] is True and ext["field"] == "input.customerId"
    assert "still being set up" in raised.value.message and cid in raised.value.message


async def test_an_id_that_cannot_be_a_customer_is_not_found_at_once() -> None:
    copy = ArrivesAfter(10_000)
    started = time.monotonic()
    with pytest.raises(NotFound):
        await arriving_customer(copy.get, "no-such-customer", field="f", wait_s=5)
    assert time.monotonic() - started < 0.5 and copy.calls == 1
    assert could_be_customer_id(str(uuid.uuid4()))
    assert not could_be_customer_id("cust-123")


async def test_wait_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_CUSTOMER_COPY_WAIT_S", "0")
    copy = ArrivesAfter(10_000)
    with pytest.raises(CustomerNotReady):
        await arriving_customer(copy.get, str(uuid.uuid4()), field="f")
    assert copy.calls == 1
