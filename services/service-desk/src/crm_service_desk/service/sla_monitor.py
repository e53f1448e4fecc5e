"""The SLA monitor: finds tickets past a due time and reports each breach exactly once.

Every replica runs the loop (`crm_common.scheduling.DueLoop`: it sleeps until the next due time, is
woken by local ticket writes and sweeps every ``interval_s``); only the holder of the
``service-desk.sla-monitor`` lease scans (`crm_common.coordination.Lease`, re-checked before each
ticket). Each breach is claimed by INSERTING its breach record (``_id =
"<tenant>:<ticket>:<kind>"``) with the `ticket_sla_breached` event and the escalation in the same
document (outbox): a duplicate ``_id`` is refused atomically on MongoDB and FerretDB alike, so when
two replicas briefly both scan during a lease handover only one reports (a conditional update would
not do on FerretDB, which applies it as read-then-write). The event id is derived from the ticket,
the kind and the due time, so even a repeated announcement is one event to consumers. A replica
killed between the record and the ticket's flag leaves the record (and its event) in place; the
next scan, finding the claim taken and older than a while, completes the flag (``_repair``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.servicedesk import TicketSlaBreached
from crm_common.scheduling import DueLoop
from crm_service_desk.domain.ticket import SlaKind, breaches_due
from crm_service_desk.service.ports import SlaBreachStore
from crm_service_desk.service.tickets import desk_event

log = logging.getLogger(__name__)
LEASE_NAME = "service-desk.sla-monitor"

BREACHES_CLAIMED = Counter(
    "servicedesk_sla_breaches_claimed_total",
    "SLA breaches this replica claimed and reported",
    ["kind"],
)


class SlaMonitor:
    def __init__(
        self,
        store: SlaBreachStore,
        notify_outbox: Callable[[], None],
        interval_s: float,
        batch: int = 200,
        clock: Callable[[], datetime] = utc_now,
        lease: Lease | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
        self._notify = notify_outbox
        self._interval = interval_s
        self._batch = batch
        self._clock = clock
        self.claimed = 0
        # Sleeps until the next SLA due time, woken by local writes, sweeping every
        # ``interval_s`` for tickets written by other replicas (crm_common.scheduling).
        self._loop = DueLoop("sla-monitor", self, lease=lease, sweep_s=interval_s, clock=clock)

    async def _leading(self) -> bool:
        return self._lease is None or await self._lease.held()

    async def scan_once(self) -> int:
        """Report the breaches due now; returns how many this replica claimed."""
        if not await self._leading():
            return 0
        now = self._clock()
        claimed = 0
        for ticket in await self._store.due(now, self._batch):
            if not await self._leading():
                break
            for kind in breaches_due(ticket, now):
                lead = await self._store.department_lead(ticket.tenant_id, ticket.department)
                due_at = (
                    ticket.response_due_at if kind is SlaKind.RESPONSE else ticket.resolution_due_at
                )
                event = desk_event(
                    TicketSlaBreached(
                        ticket_id=ticket.id,
                        customer_id=ticket.customer_id,
                        priority=ticket.priority.value,
                        kind=kind.value,
                        due_at=due_at,
                        detected_at=now,
                        department=ticket.department,
                        escalated_to=lead,
                    ),
                    ticket.tenant_id,
                    ticket.customer_id,
                ).with_id(
                    deterministic_event_id(
                        "service-desk.sla-breach",
                        ticket.tenant_id,
                        ticket.id,
                        kind.value,
                        due_at.isoformat(),
                    )
                )
                if await self._store.claim_breach(ticket, kind, now, lead, [event]):
                    claimed += 1
                    BREACHES_CLAIMED.labels(kind.value).inc()
                    log.info(
                        "sla breached",
                        extra={"ticket_id": ticket.id, "kind": kind.value, "escalated_to": lead},
                    )
        if claimed:
            self.claimed += claimed
            self._notify()
        return claimed

    async def run_due(self, now: datetime) -> int:
        return await self.scan_once()

    async def next_due(self, horizon: datetime) -> datetime | None:
        """The earliest unreported SLA due time up to ``horizon`` (the same indexed query)."""
        due = [
            ticket.response_due_at if kind is SlaKind.RESPONSE else ticket.resolution_due_at
            for ticket in await self._store.due(horizon, 50)
            for kind in breaches_due(ticket, horizon)
        ]
        return min(due, default=None)

    def wake(self) -> None:
        """A ticket was written here: a due time may be sooner than we planned."""
        self._loop.wake()

    async def start(self, _: object = None) -> None:
        await self._loop.start()

    async def stop(self, _: object = None) -> None:
        await self._loop.stop()
