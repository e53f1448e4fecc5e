"""Customer counts: summary, reading rights and the event reaction (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import Forbidden
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.customer_counts import (
    CustomerCounts,
    SeenCustomer,
    StatusCount,
    summarize,
)
from crm_insights.domain.permissions import can_read_reports
from crm_insights.service.customer_events import on_customer_created
from crm_insights.service.reports import ReportService


def _principal(*roles: str) -> Principal:
    return Principal(user_id="u1", tenant_id="t1", roles=frozenset(roles))


def test_summarize_orders_by_status_and_totals() -> None:
    assert summarize({"LEAD": 2, "PENDING_REVIEW": 3, "DEAL": 0}) == CustomerCounts(
        total=5,
        by_status=(StatusCount("LEAD", 2), StatusCount("PENDING_REVIEW", 3)),
    )


def test_summarize_nothing() -> None:
    assert summarize({}) == CustomerCounts(total=0, by_status=())


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ANALYST, Role.SALES_MANAGER])
def test_report_readers(role: str) -> None:
    can_read_reports(_principal(role))


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SERVICE_AGENT, Role.SERVICE_MANAGER])
def test_other_roles_are_forbidden(role: str) -> None:
    with pytest.raises(Forbidden):
        can_read_reports(_principal(role))


class _FakeCounts:
    """In-memory stand-in with the repository's contract: a customer counts once."""

    def __init__(self, tenant_id: str, seen: dict[str, SeenCustomer]) -> None:
        self.tenant_id = tenant_id
        self._seen = seen

    async def record_new_customer(self, customer: SeenCustomer) -> None:
        self._seen.setdefault(customer.id, customer)

    async def counts_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self._seen.values():
            if c.tenant_id == self.tenant_id:
                counts[c.status] = counts.get(c.status, 0) + 1
        return counts


def _created(customer_id: str, tenant: str) -> tuple[CloudEvent, CustomerCreated]:
    payload = CustomerCreated(
        customer_id=customer_id,
        number="CUS20260101001",
        name="ACME",
        status="PENDING_REVIEW",
        owner_id="rep",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    event = CloudEvent.new(payload, source="crm/customer", tenant_id=tenant, key=customer_id)
    return event, payload


async def test_customer_created_is_counted_once_in_its_tenant() -> None:
    seen: dict[str, SeenCustomer] = {}

    def counts(tenant: str) -> _FakeCounts:
        return _FakeCounts(tenant, seen)

    for customer_id, tenant in [("c1", "t1"), ("c1", "t1"), ("c2", "t1"), ("c3", "t2")]:
        event, payload = _created(customer_id, tenant)
        await on_customer_created(event, payload, counts)

    report = await ReportService(_principal(Role.ANALYST), counts("t1")).customer_counts()
    assert report == CustomerCounts(total=2, by_status=(StatusCount("PENDING_REVIEW", 2),))
