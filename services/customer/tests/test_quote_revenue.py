"""Deal revenue from accepted quotes (issue 17), with an in-memory repository: each quote is
counted once (a second event for the same quote adds nothing), an accepted quote for a deal
still adds its revenue, and the value tier moves with it (with its event)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.events.contracts.customer import CustomerValueTierChanged
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.envelope import CloudEvent
from crm_customer.domain.customer import (
    Customer,
    CustomerStatus,
    CustomerType,
    HistoryEntry,
    Profile,
)
from crm_customer.domain.tiers import DEFAULT_THRESHOLDS, TierThresholds
from crm_customer.service.quote_events import on_quote_accepted

NOW = datetime(2026, 12, 5, tzinfo=UTC)


class Repo:
    tenant_id = "t1"

    def __init__(self, customer: Customer) -> None:
        self.customer = customer
        self.events: list[CloudEvent] = []

    async def get(self, customer_id: str) -> Customer | None:
        return self.customer if customer_id == self.customer.id else None

    async def save(
        self,
        before: Customer,
        after: Customer,
        history: Sequence[HistoryEntry],
        events: Sequence[CloudEvent],
    ) -> bool:
        if before.version != self.customer.version:
            return False
        self.customer = after
        self.events.extend(events)
        return True


def accepted(quote_id: str, total: int) -> tuple[CloudEvent, QuoteAccepted]:
    payload = QuoteAccepted(
        quote_id=quote_id,
        quote_number=quote_id.upper(),
        version=1,
        opportunity_id="o",
        customer_id="c1",
        owner_id="rep",
        total_minor=total,
        currency="CNY",
        accepted_at=NOW,
    )
    return CloudEvent.new(payload, source="test", tenant_id="t1", key="c1"), payload


async def test_each_quote_counts_once_and_moves_the_tier() -> None:
    repo = Repo(
        Customer(
            id="c1",
            tenant_id="t1",
            number="CUS20261205001",
            profile=Profile(name="Acme"),
            status=CustomerStatus.LEAD,
            owner_id="rep",
            created_at=NOW,
            updated_at=NOW,
            history=(),
        )
    )

    async def thresholds(_: str) -> TierThresholds:
        return DEFAULT_THRESHOLDS

    def repo_for(_: str) -> Any:
        return repo

    event, payload = accepted("q1", 60_000_000)
    for _ in range(2):  # the same quote twice (e.g. a redelivery under another event id)
        await on_quote_accepted(event, payload, repo_for, lambda: None, thresholds)
    assert repo.customer.deal_revenue_minor == 60_000_000
    assert repo.customer.status == CustomerStatus.DEAL
    assert repo.customer.profile.customer_type == CustomerType.DEAL
    assert repo.customer.value_tier.value == "B"

    event, payload = accepted("q2", 50_000_000)  # a second deal for a customer already DEAL
    await on_quote_accepted(event, payload, repo_for, lambda: None, thresholds)
    assert repo.customer.deal_revenue_minor == 110_000_000
    assert repo.customer.value_tier.value == "A"
    assert repo.customer.revenue_quote_ids == ("q1", "q2")
    moves = [e for e in repo.events if e.type == CustomerValueTierChanged.event_type]
    assert [(m.data["from_tier"], m.data["to_tier"]) for m in moves] == [("C", "B"), ("B", "A")]
    assert all(m.data["state"]["value_tier"] == m.data["to_tier"] for m in moves)
    unchanged = dataclasses.replace(repo.customer)
    await on_quote_accepted(event, payload, repo_for, lambda: None, thresholds)
    assert repo.customer == unchanged
