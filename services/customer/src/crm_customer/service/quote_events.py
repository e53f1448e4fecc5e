"""Reactions to quoting's events: an accepted quote makes the customer a deal."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from crm_common.clock import utc_now
from crm_common.events.contracts.customer import CustomerStatusChanged
from crm_common.events.contracts.quoting import QuoteAccepted
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_customer.domain.customer import (
    CustomerStatus,
    HistoryEntry,
    moves_to_deal_on_accepted_quote,
)
from crm_customer.service.customers import EVENT_SOURCE, SAVE_ATTEMPTS, copied_state
from crm_customer.service.ports import CustomerRepository

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:quoting"


async def on_quote_accepted(
    event: CloudEvent,
    payload: QuoteAccepted,
    repository_for: Callable[[str], CustomerRepository],
    notify_outbox: Callable[[], None],
) -> None:
    """Move the customer to DEAL once; a repeat, or a customer already a deal, changes nothing."""
    repo = repository_for(event.tenant_id)
    for _ in range(SAVE_ATTEMPTS):
        before = await repo.get(payload.customer_id)
        if before is None or before.is_tombstone:
            log.warning("quote accepted for an unknown customer", extra={"event_id": event.id})
            return
        if not moves_to_deal_on_accepted_quote(before.status):
            return
        now = utc_now()
        reason = f"quote {payload.quote_number} v{payload.version} accepted"
        history = [HistoryEntry(now, SYSTEM_ACTOR, "status", before.status.value, "DEAL", reason)]
        after = dataclasses.replace(
            before,
            status=CustomerStatus.DEAL,
            version=before.version + 1,
            updated_at=now,
            history=(*(before.history or ()), *history),
        )
        changed = CustomerStatusChanged(
            customer_id=before.id,
            from_status=before.status.value,
            to_status=CustomerStatus.DEAL.value,
            actor_id=SYSTEM_ACTOR,
            reason=reason,
            changed_at=now,
            state=copied_state(after),
        )
        out = new_event(changed, source=EVENT_SOURCE, tenant_id=event.tenant_id, key=before.id)
        if await repo.save(before, after, history, [out]):
            notify_outbox()
            return
    raise RuntimeError("customer kept changing while applying an accepted quote")
