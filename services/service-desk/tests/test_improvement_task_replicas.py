"""Two replicas, one store: automatic improvement tasks and overdue announcements happen once.

Each replica has its own single-connection client (like two processes on FerretDB). Both react
to the same low survey answer and the same complaint ticket at the same moment (a rebalance
handing a partition over, or a redelivery), and both run the overdue monitor over the same late
tasks with no lease between them: one task per source, one outbox entry per event, one overdue
claim per task, and every late task flagged.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import stack
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_common.clock import utc_now
from crm_common.events.contracts.servicedesk import (
    ImprovementTaskOpened,
    ImprovementTaskOverdue,
    SurveyResponded,
    TicketOpened,
)
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_service_desk.adapters.improvement import INDEXES as TASK_INDEXES
from crm_service_desk.adapters.improvement import (
    MongoImprovementTaskRepository,
    MongoOverdueTaskStore,
    MongoTaskRouting,
)
from crm_service_desk.adapters.mongo import INDEXES
from crm_service_desk.domain.improvement import ImprovementTask, TaskSource, TaskStatus
from crm_service_desk.service.improvement import (
    OverdueTaskMonitor,
    open_from_complaint,
    open_from_survey,
)

pytestmark = [pytest.mark.e2e]

LATE = 6


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "tasks", {**INDEXES, **TASK_INDEXES}) as dbs:
        yield dbs


async def test_two_replicas_open_one_task_per_source(replicas: ReplicaDatabases) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    answer = SurveyResponded(
        survey_id="s1",
        customer_id="c1",
        subject_type="TICKET",
        subject_id="k0",
        scores={"service_quality": 1, "response_speed": 5},
        responded_at=now,
    )
    complaint = TicketOpened(
        ticket_id="k1",
        customer_id="c1",
        title="Nobody called back",
        category="COMPLAINT",
        priority="HIGH",
        opened_by="agent",
        response_due_at=now,
        resolution_due_at=now,
        opened_at=now,
    )
    results = await asyncio.gather(
        *(
            opener(
                tenant,
                payload,  # type: ignore[arg-type]
                MongoImprovementTaskRepository(db, tenant),
                MongoTaskRouting(db, tenant),
                now,
            )
            for db in replicas
            for opener, payload in ((open_from_survey, answer), (open_from_complaint, complaint))
            for _ in range(2)
        )
    )
    assert sum(r is not None for r in results) == 2  # one winner per source
    db = replicas[0]
    assert await db["improvement_tasks"].count_documents({"tenant_id": tenant}) == 2
    entries = [
        doc
        async for doc in db[OUTBOX_COLLECTION].find(
            {"event.type": ImprovementTaskOpened.event_type}
        )
    ]
    assert sorted(e["event"]["data"]["source"] for e in entries) == ["SURVEY", "TICKET"]


async def test_two_overdue_monitors_announce_each_late_task_once(
    replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    now = utc_now()
    repository = MongoImprovementTaskRepository(db_a, tenant)
    for n in range(LATE + 1):
        await repository.add(
            ImprovementTask(
                id=f"task-{n}",
                tenant_id=tenant,
                title=f"Improve {n}",
                description="",
                source=TaskSource.MANUAL,
                source_id=None,
                customer_id=f"c{n}",
                team="support",
                owner_id="lead",
                status=TaskStatus.OPEN,
                # The last one is not due yet.
                due_at=now + (timedelta(hours=1) if n == LATE else -timedelta(minutes=n + 1)),
                opened_by="mgr",
                created_at=now - timedelta(days=1),
                updated_at=now - timedelta(days=1),
            ),
            [],
        )
    monitors = [
        OverdueTaskMonitor(MongoOverdueTaskStore(db, writer), lambda: None, interval_s=0.1)
        for db, writer in ((db_a, "replica-a"), (db_b, "replica-b"))
    ]
    while sum(await asyncio.gather(*(m.run_due(utc_now()) for m in monitors))):
        pass
    assert sum(m.announced for m in monitors) == LATE
    entries = [
        doc
        async for doc in db_a[OUTBOX_COLLECTION].find(
            {"event.type": ImprovementTaskOverdue.event_type}
        )
    ]
    assert sorted(e["event"]["data"]["task_id"] for e in entries) == [
        f"task-{n}" for n in range(LATE)
    ]
    assert await db_a["improvement_task_overdue"].count_documents({}) == LATE
    flagged = await db_a["improvement_tasks"].count_documents({"overdue_at": {"$ne": None}})
    assert flagged == LATE
