"""Bringing stored customers up to the current derived fields (type from the lifecycle status,
value tier, completeness): one customer at a time, as a normal conditional change.

Idempotent and replica-safe: each customer is re-read and written conditionally on its
version; the write stores the current ``derived_version``, so a customer is done once and a
second process running the same migration finds nothing left (or loses the race and skips).
A customer whose type the lifecycle contradicted gets a ``customer_type`` history entry and a
``crm.customer.updated`` event carrying the consistent state; a moved tier its
``crm.customer.value_tier_changed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from crm_common.clock import utc_now
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerUpdated
from crm_common.events.outbox import new_event
from crm_customer.domain.tiers import TierThresholds
from crm_customer.service.customers import (
    EVENT_SOURCE,
    SAVE_ATTEMPTS,
    derived_changes,
    with_state,
)
from crm_customer.service.ports import CustomerRepository

MIGRATION_ACTOR = "system:migration"


async def normalise_customer(
    repo: CustomerRepository,
    thresholds: TierThresholds,
    customer_id: str,
    notify_outbox: Callable[[], None],
) -> bool:
    """Store the customer with its derived fields current; True if this call wrote it."""
    for _ in range(SAVE_ATTEMPTS):
        before = await repo.get_outdated(customer_id)
        if before is None:
            return False  # done meanwhile (by another process) or gone
        now = utc_now()
        after, history, payloads = derived_changes(
            before, before, thresholds, actor_id=MIGRATION_ACTOR, at=now, cause="MIGRATION"
        )
        events: list[EventData] = list(payloads)
        if any(h.field == "customer_type" for h in history):
            events.insert(
                0,
                CustomerUpdated(
                    customer_id=before.id,
                    changed_fields=["customer_type"],
                    actor_id=MIGRATION_ACTOR,
                    updated_at=now,
                ),
            )
        after = dataclasses.replace(
            after,
            version=before.version + 1,
            updated_at=now if history else before.updated_at,
            history=(*(before.history or ()), *history),
        )
        out = [
            new_event(
                with_state(p, after), source=EVENT_SOURCE, tenant_id=before.tenant_id, key=before.id
            )
            for p in events
        ]
        if await repo.save(before, after, history, out):
            if out:
                notify_outbox()
            return True
    return False
