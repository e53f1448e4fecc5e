"""Two replicas of the reminder scheduler over the same due follow-ups, on the real store.

Each replica has its own client with one connection (like two processes on FerretDB). Every
follow-up's ``followup.due`` and ``followup.overdue`` must be announced once -- one event id
each, one outbox entry each -- and when the lease holder dies half-way through a task, the other
replica takes the lease over and announces the rest, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import Crash, ReplicaDatabases, replica_databases, until

from crm_common.clock import utc_now
from crm_common.coordination import Lease
from crm_common.events.contracts.engagement import FollowUpDue, FollowUpOverdue
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_engagement.adapters.mongo import INDEXES, MongoFollowUpRepository, MongoReminderStore
from crm_engagement.domain.followup import (
    FollowUp,
    FollowUpStatus,
    FollowUpType,
    Priority,
)
from crm_engagement.service.reminders import LEASE_NAME, ReminderScheduler, reminder_event_id

pytestmark = [pytest.mark.e2e]

TASKS = 12
DUE = FollowUpDue.event_type
OVERDUE = FollowUpOverdue.event_type


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "reminders", INDEXES) as databases:
        yield databases


async def _seed(db: AsyncDatabase[Document]) -> tuple[str, list[FollowUp]]:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    tasks = [
        FollowUp(
            id=str(uuid.uuid4()),
            tenant_id=tenant,
            customer_id=f"c{n}",
            type=FollowUpType.PHONE_CALL,
            due_at=now - timedelta(minutes=5 + n),  # past due: a due AND an overdue reminder
            remind_at=now - timedelta(hours=1),
            priority=Priority.HIGH,
            goal=f"call {n}",
            assignee_id="rep",
            status=FollowUpStatus.OPEN,
            created_by="rep",
            created_at=now - timedelta(days=1),
        )
        for n in range(TASKS)
    ]
    repository = MongoFollowUpRepository(db, tenant)
    for task in tasks:
        await repository.add(task, [])
    return tenant, tasks


async def _announced(db: AsyncDatabase[Document], event_type: str) -> list[dict[str, Any]]:
    return [doc async for doc in db[OUTBOX_COLLECTION].find({"event.type": event_type})]


async def _assert_each_announced_once(db: AsyncDatabase[Document], tasks: list[FollowUp]) -> None:
    for event_type, kind in ((DUE, "due"), (OVERDUE, "overdue")):
        entries = await _announced(db, event_type)
        by_task: dict[str, set[str]] = {}
        for entry in entries:
            by_task.setdefault(entry["event"]["data"]["followup_id"], set()).add(entry["_id"])
        assert len(entries) == TASKS, (event_type, len(entries))
        assert {t.id: {reminder_event_id(t, kind)} for t in tasks} == by_task


async def test_two_replicas_announce_each_reminder_once(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    _, tasks = await _seed(db_a)
    schedulers = [
        ReminderScheduler(
            MongoReminderStore(db), lambda: None, lease=Lease(db, LEASE_NAME, holder=h, slot_s=1.0)
        )
        for db, h in ((db_a, "a"), (db_b, "b"))
    ]
    # Both run their rounds at the same moment, as two replicas would.
    while True:
        won = await asyncio.gather(*(s.run_once() for s in schedulers))
        if sum(won) == 0:
            break
    assert sum(s.claimed for s in schedulers) == 2 * TASKS
    assert min(s.claimed for s in schedulers) == 0  # one leader did it all
    await _assert_each_announced_once(db_a, tasks)
    statuses = {doc["status"] async for doc in db_a["followups"].find({})}
    assert statuses == {FollowUpStatus.OVERDUE.value}


class DyingStore(MongoReminderStore):
    """Dies half-way through its ``crash_at``-th due reminder: the claim (with its event) is in,
    the task's ``due_notified`` flag is not."""

    def __init__(self, db: AsyncDatabase[Document], crash_at: int) -> None:
        super().__init__(db)
        self.crash_at = crash_at
        self.calls = 0
        self.died = False

    async def claim_due(self, task: FollowUp, event: CloudEvent) -> bool:
        self.calls += 1
        if self.calls == self.crash_at:
            await self._claim(task, "due", event)
            self.died = True
            raise Crash
        return await super().claim_due(task, event)


async def test_when_the_leader_dies_mid_task_the_other_replica_finishes_the_rest(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    _, tasks = await _seed(db_a)
    dying = DyingStore(db_a, crash_at=5)
    lease_a = Lease(db_a, LEASE_NAME, holder="a", slot_s=1.0)
    a = ReminderScheduler(dying, lambda: None, interval_s=0.1, lease=lease_a)
    b = ReminderScheduler(
        MongoReminderStore(db_b),
        lambda: None,
        interval_s=0.1,
        lease=Lease(db_b, LEASE_NAME, holder="b", slot_s=1.0),
    )
    assert await lease_a.held()  # a leads from the start
    await a.start()
    await b.start()
    try:

        async def done() -> bool:
            return (
                dying.died
                and len(await _announced(db_a, DUE)) == TASKS
                and len(await _announced(db_a, OVERDUE)) == TASKS
                and await db_a["followups"].count_documents({"due_notified": False}) == 0
            )

        await until(done)
    finally:
        await b.stop()
        with contextlib.suppress(Crash):
            await a.stop()  # its task died with the Crash
    assert dying.calls == 5  # a got 4 tasks in, and died half-way through the 5th
    assert b.claimed == 2 * TASKS - 5  # b: the rest (a's half-done task was a's claim)
    await _assert_each_announced_once(db_a, tasks)
