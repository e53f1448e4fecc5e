"""Two replicas of the SLA monitor over the same breached tickets, on the real store.

Each replica has its own client with one connection (like two processes on FerretDB). Every
breach (response and resolution, per ticket) must be reported once -- one event id, one outbox
entry, one breach record -- and when the lease holder dies between a breach record and the
ticket's flag, the other replica takes the lease over, reports the rest and completes the flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import Crash, ReplicaDatabases, replica_databases, until

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.servicedesk import TicketSlaBreached
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_service_desk.adapters import mongo as desk_mongo
from crm_service_desk.adapters.mongo import INDEXES, MongoSlaBreachStore, MongoTicketRepository
from crm_service_desk.domain.ticket import (
    SlaKind,
    Ticket,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from crm_service_desk.service.sla_monitor import LEASE_NAME, SlaMonitor

pytestmark = [pytest.mark.e2e]

TICKETS = 8


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "sla", INDEXES) as databases:
        yield databases


async def _seed(db: AsyncDatabase[Document]) -> list[Ticket]:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    tickets = [
        Ticket(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            customer_id=f"c{n}",
            title=f"Broken {n}",
            description="",
            category=TicketCategory.INCIDENT,
            priority=TicketPriority.HIGH,
            status=TicketStatus.NEW,
            opened_by="agent",
            created_at=now - timedelta(hours=10),
            response_due_at=now - timedelta(hours=2, minutes=n),
            resolution_due_at=now - timedelta(hours=1, minutes=n),
        )
        for n in range(TICKETS)
    ]
    repository = MongoTicketRepository(db, tenant)
    for ticket in tickets:
        await repository.add(ticket, [])
    return tickets


def _expected_id(ticket: Ticket, kind: SlaKind, due_at: datetime) -> str:
    return deterministic_event_id(
        "service-desk.sla-breach", ticket.tenant_id, ticket.id, kind.value, due_at.isoformat()
    )


async def _assert_each_reported_once(db: AsyncDatabase[Document], tickets: list[Ticket]) -> None:
    entries = [
        doc
        async for doc in db[OUTBOX_COLLECTION].find({"event.type": TicketSlaBreached.event_type})
    ]
    assert len(entries) == 2 * TICKETS
    ids: dict[tuple[str, str], set[str]] = {}
    for entry in entries:
        data = entry["event"]["data"]
        ids.setdefault((data["ticket_id"], data["kind"]), set()).add(entry["_id"])
    stored = {doc["_id"]: doc async for doc in db["tickets"].find({})}
    expected = {}
    for ticket in tickets:
        doc = stored[ticket.id]
        for kind, due in (
            (SlaKind.RESPONSE, doc["response_due_at"]),
            (SlaKind.RESOLUTION, doc["resolution_due_at"]),
        ):
            expected[(ticket.id, kind.value)] = {_expected_id(ticket, kind, due)}
    assert ids == expected
    assert await db["sla_breaches"].count_documents({}) == 2 * TICKETS


async def test_two_replicas_report_each_breach_once(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    tickets = await _seed(db_a)
    monitors = [
        SlaMonitor(
            MongoSlaBreachStore(db),
            lambda: None,
            interval_s=0.1,
            lease=Lease(db, LEASE_NAME, holder=h, slot_s=1.0),
        )
        for db, h in ((db_a, "a"), (db_b, "b"))
    ]
    while sum(await asyncio.gather(*(m.scan_once() for m in monitors))):
        pass
    assert sum(m.claimed for m in monitors) == 2 * TICKETS
    assert min(m.claimed for m in monitors) == 0  # one leader did it all
    await _assert_each_reported_once(db_a, tickets)
    flagged = await db_a["tickets"].count_documents(
        {"response_breached_at": {"$ne": None}, "resolution_breached_at": {"$ne": None}}
    )
    assert flagged == TICKETS


class DyingStore(MongoSlaBreachStore):
    """Dies after its ``crash_at``-th breach record is in, before the ticket shows it."""

    def __init__(self, db: AsyncDatabase[Document], crash_at: int) -> None:
        super().__init__(db)
        self.crash_at = crash_at
        self.marks = 0
        self.died = False

    async def _mark(
        self, ticket: Ticket, kind: SlaKind, detected_at: datetime, escalate_to: str | None
    ) -> None:
        self.marks += 1
        if self.marks == self.crash_at:
            self.died = True
            raise Crash
        await super()._mark(ticket, kind, detected_at, escalate_to)


async def test_when_the_leader_dies_mid_breach_the_other_replica_finishes(
    replicas: ReplicaDatabases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The survivor completes a dead winner's ticket flag once the record is this old.
    monkeypatch.setattr(desk_mongo, "_CLAIM_REPAIR_AFTER", timedelta(seconds=1))
    db_a, db_b = replicas
    tickets = await _seed(db_a)
    dying = DyingStore(db_a, crash_at=5)
    lease_a = Lease(db_a, LEASE_NAME, holder="a", slot_s=1.0)
    a = SlaMonitor(dying, lambda: None, interval_s=0.1, lease=lease_a)
    b = SlaMonitor(
        MongoSlaBreachStore(db_b),
        lambda: None,
        interval_s=0.1,
        lease=Lease(db_b, LEASE_NAME, holder="b", slot_s=1.0),
    )
    assert await lease_a.held()  # a leads from the start
    await a.start()
    await b.start()
    try:

        async def done() -> bool:
            flagged = await db_a["tickets"].count_documents(
                {"response_breached_at": {"$ne": None}, "resolution_breached_at": {"$ne": None}}
            )
            return dying.died and flagged == TICKETS

        await until(done)
    finally:
        await b.stop()
        with contextlib.suppress(Crash):
            await a.stop()  # its task died with the Crash
    assert b.claimed == 2 * TICKETS - 5  # a recorded 5 breaches (the last one half-way)
    await _assert_each_reported_once(db_a, tickets)
