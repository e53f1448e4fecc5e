"""Reactions to quoting's events: an accepted quote makes the customer a deal and adds its
total to the customer's deal revenue (which may move its value tier)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable

from crm_common.clock import utc_now
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerStatusChanged
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_customer.domain.customer import (
    CustomerStatus,
    HistoryEntry,
    moves_to_deal_on_accepted_quote,
)
from crm_customer.domain.tiers import TierThresholds
from crm_customer.service.customers import (
    EVENT_SOURCE,
    SAVE_ATTEMPTS,
    derived_changes,
    with_state,
)
from crm_customer.service.ports import CustomerRepository

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:quoting"


async def on_quote_accepted(
    event: CloudEvent,
    payload: QuoteAccepted,
    repository_for: Callable[[str], CustomerRepository],
    notify_outbox: Callable[[], None],
    thresholds_for: Callable[[str], Awaitable[TierThresholds]],
) -> None:
    """Move the customer to DEAL once and count the quote's total once in its deal revenue
    (the quote id is kept on the customer); a repeat changes nothing."""
    repo = repository_for(event.tenant_id)
    thresholds = await thresholds_for(event.tenant_id)
    for _ in range(SAVE_ATTEMPTS):
        before = await repo.get(payload.customer_id)
        if before is None or before.is_tombstone:
            log.warning("quote accepted for an unknown customer", extra={"event_id": event.id})
            return
        counted = payload.quote_id in before.revenue_quote_ids
        to_deal = moves_to_deal_on_accepted_quote(before.status)
        if counted and not to_deal:
            return
        now = utc_now()
        reason = f"quote {payload.quote_number} v{payload.version} accepted"
        after = before
        history: list[HistoryEntry] = []
        payloads: list[EventData] = []
        if not counted:
            revenue = before.deal_revenue_minor + payload.total_minor
            history.append(
                HistoryEntry(
                    now,
                    SYSTEM_ACTOR,
                    "deal_revenue_minor",
                    before.deal_revenue_minor,
                    revenue,
                    reason,
                )
            )
            after = dataclasses.replace(
                after,
                deal_revenue_minor=revenue,
                revenue_quote_ids=(*before.revenue_quote_ids, payload.quote_id),
            )
        if to_deal:
            history.append(
                HistoryEntry(now, SYSTEM_ACTOR, "status", before.status.value, "DEAL", reason)
            )
            after = dataclasses.replace(after, status=CustomerStatus.DEAL)
            payloads.append(
                CustomerStatusChanged(
                    customer_id=before.id,
                    from_status=before.status.value,
                    to_status=CustomerStatus.DEAL.value,
                    actor_id=SYSTEM_ACTOR,
                    reason=reason,
                    changed_at=now,
                )
            )
        after, derived_history, derived_events = derived_changes(
            before, after, thresholds, actor_id=SYSTEM_ACTOR, at=now, cause="REVENUE"
        )
        history += derived_history
        payloads += derived_events
        after = dataclasses.replace(
            after,
            version=before.version + 1,
            updated_at=now,
            history=(*(before.history or ()), *history),
        )
        out = [
            new_event(
                with_state(p, after), source=EVENT_SOURCE, tenant_id=event.tenant_id, key=before.id
            )
            for p in payloads
        ]
        if await repo.save(before, after, history, out):
            notify_outbox()
            return
    raise RuntimeError("customer kept changing while applying an accepted quote")
