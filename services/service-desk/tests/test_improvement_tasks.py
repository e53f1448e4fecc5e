"""Improvement tasks: rules (pure) and the automatic opening's idempotency (in-memory fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden, NotFound
from crm_common.events.contracts.servicedesk import SurveyResponded, TicketOpened
from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.improvement import (
    DEFAULT_DUE,
    ImprovementTask,
    TaskSource,
    TaskStatus,
    apply_changes,
    close,
    low_scores,
    mark_overdue,
    only_progress,
    task_id_for,
    validate_changes,
)
from crm_service_desk.domain.permissions import Visibility, manages_team, task_visibility
from crm_service_desk.service.improvement import (
    ImprovementTaskService,
    NewTaskCommand,
    open_from_complaint,
    open_from_survey,
)
from crm_service_desk.service.ports import ServiceSummary, TaskFilter
from crm_service_desk.service.summary import SummaryService

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def _task(**changes: object) -> ImprovementTask:
    task = ImprovementTask(
        id="t1",
        tenant_id="acme",
        title="Fix onboarding",
        description="",
        source=TaskSource.MANUAL,
        source_id=None,
        customer_id="c1",
        team="support",
        owner_id="u-owner",
        status=TaskStatus.OPEN,
        due_at=NOW + timedelta(days=3),
        opened_by="u-mgr",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(task, **changes)  # type: ignore[arg-type]


def _principal(*roles: Role, user: str = "u1", team: str | None = "support") -> Principal:
    return Principal(user_id=user, tenant_id="acme", roles=frozenset(roles), team=team)


def test_low_scores_pick_the_unhappy_dimensions() -> None:
    assert low_scores({"speed": 2, "quality": 4, "tone": 1}) == {"speed": 2, "tone": 1}
    assert low_scores({"speed": 3, "quality": 5}) == {}


def test_automatic_ids_are_deterministic_per_tenant_and_source() -> None:
    one = task_id_for("acme", TaskSource.SURVEY, "s1")
    assert one == task_id_for("acme", TaskSource.SURVEY, "s1")
    assert one != task_id_for("other", TaskSource.SURVEY, "s1")
    assert one != task_id_for("acme", TaskSource.TICKET, "s1")


def test_start_reassign_and_close() -> None:
    task = _task()
    started = apply_changes(
        task,
        validate_changes(
            title=None,
            description=None,
            owner_id=None,
            team=None,
            due_at=None,
            status=TaskStatus.IN_PROGRESS,
            now=NOW,
        ),
        "u-owner",
        NOW,
    )
    assert started.status is TaskStatus.IN_PROGRESS
    assert [h.action for h in started.history] == ["STARTED"]
    moved = apply_changes(
        started,
        validate_changes(
            title=None,
            description=None,
            owner_id="u-2",
            team=None,
            due_at=NOW + timedelta(days=10),
            status=None,
            now=NOW,
        ),
        "u-mgr",
        NOW,
    )
    assert moved.owner_id == "u-2"
    assert [h.action for h in moved.history][-2:] == ["REASSIGNED", "RESCHEDULED"]
    done = close(moved, TaskStatus.DONE, "  retrained the team  ", "u-2", NOW)
    assert done.status is TaskStatus.DONE
    assert done.closure_note == "retrained the team"
    assert not done.is_open
    assert not done.overdue(NOW + timedelta(days=30))  # closed in time stays in time


def test_bad_changes_are_refused_with_their_field() -> None:
    with pytest.raises(BadUserInput) as error:
        validate_changes(
            title=None,
            description=None,
            owner_id=None,
            team=None,
            due_at=None,
            status=TaskStatus.DONE,
            now=NOW,
        )
    assert error.value.field == "input.status"
    with pytest.raises(BadUserInput) as error:
        close(_task(), TaskStatus.DONE, "   ", "u", NOW)
    assert error.value.field == "input.note"
    with pytest.raises(BadUserInput) as error:
        close(_task(), TaskStatus.OPEN, "x", "u", NOW)
    assert error.value.field == "input.outcome"
    closed = close(_task(), TaskStatus.CANCELLED, "duplicate", "u", NOW)
    with pytest.raises(BadUserInput):
        close(closed, TaskStatus.DONE, "again", "u", NOW)
    with pytest.raises(BadUserInput) as error:
        validate_changes(
            title=None,
            description=None,
            owner_id=None,
            team=None,
            due_at=NOW + timedelta(days=400),
            status=None,
            now=NOW,
        )
    assert error.value.field == "input.dueAt"


def test_overdue_and_a_new_due_time() -> None:
    task = _task(due_at=NOW - timedelta(hours=1))
    assert task.overdue(NOW)
    marked = mark_overdue(task, NOW)
    assert marked.overdue_at == NOW
    later = apply_changes(
        marked,
        validate_changes(
            title=None,
            description=None,
            owner_id=None,
            team=None,
            due_at=NOW + timedelta(days=2),
            status=None,
            now=NOW,
        ),
        "u-mgr",
        NOW,
    )
    assert later.overdue_at is None  # the new due time may be announced again
    assert not later.overdue(NOW)
    assert close(task, TaskStatus.DONE, "late", "u", NOW).overdue(NOW)  # closed late


def test_who_manages_and_sees_tasks() -> None:
    manager = _principal(Role.SERVICE_MANAGER, team="support")
    assert manages_team(manager, "support")
    assert manages_team(manager, None)
    assert not manages_team(manager, "field")
    assert manages_team(_principal(Role.ADMIN, team=None), "field")
    assert not manages_team(_principal(Role.SERVICE_AGENT), "support")
    assert task_visibility(_principal(Role.SERVICE_AGENT)).everything
    view = task_visibility(_principal(Role.SALES_REP, user="rep"))
    assert view.task_owner == "rep" and not view.everything
    assert only_progress(
        validate_changes(
            title=None,
            description=None,
            owner_id=None,
            team=None,
            due_at=None,
            status=TaskStatus.IN_PROGRESS,
            now=NOW,
        )
    )


class _FakeTasks:
    tenant_id = "acme"

    def __init__(self) -> None:
        self.docs: dict[str, ImprovementTask] = {}
        self.events: list[CloudEvent] = []

    async def add(self, task: ImprovementTask, events: Sequence[CloudEvent]) -> bool:
        if task.id in self.docs:
            return False
        self.docs[task.id] = task
        self.events.extend(events)
        return True

    async def get(self, task_id: str, view: Visibility) -> ImprovementTask | None:
        task = self.docs.get(task_id)
        if task is None:
            return None
        if view.everything or task.team == view.team or task.owner_id == view.task_owner:
            return task
        return None

    async def listing(
        self, filter: TaskFilter, view: Visibility, page: PageRequest, now: datetime
    ) -> Page[ImprovementTask]:
        items = [(task, task.id) for task in self.docs.values()]
        return Page(items=items, has_next_page=False, has_previous_page=False, total_count=0)

    async def save(
        self, task: ImprovementTask, expected_version: int, events: Sequence[CloudEvent]
    ) -> bool:
        if self.docs[task.id].version != expected_version:
            return False
        self.docs[task.id] = task
        self.events.extend(events)
        return True


class _Routing:
    async def for_subject(
        self, subject_type: str, subject_id: str
    ) -> tuple[str | None, str | None]:
        return "support", "u-lead"

    async def for_department(
        self, department: str | None, fallback_owner: str
    ) -> tuple[str | None, str | None]:
        return department, "u-lead" if department else fallback_owner


def test_a_low_survey_and_a_complaint_open_one_task_each_however_often_delivered() -> None:
    tasks = _FakeTasks()
    survey = SurveyResponded(
        survey_id="s1",
        customer_id="c1",
        subject_type="TICKET",
        subject_id="k1",
        scores={"speed": 1, "quality": 4},
        responded_at=NOW,
        channel="PHONE",
        recorded_by="agent",
    )
    happy = survey.model_copy(update={"survey_id": "s2", "scores": {"speed": 5}})
    complaint = TicketOpened(
        ticket_id="k2",
        customer_id="c1",
        title="Rude call",
        category="COMPLAINT",
        priority="HIGH",
        department=None,
        opened_by="agent",
        response_due_at=NOW,
        resolution_due_at=NOW,
        opened_at=NOW,
    )

    async def scenario() -> None:
        routing = _Routing()
        # Two replicas (or a redelivery) react to the same events.
        for _ in range(2):
            await open_from_survey("acme", survey, tasks, routing, NOW)
            await open_from_survey("acme", happy, tasks, routing, NOW)
            await open_from_complaint("acme", complaint, tasks, routing, NOW)
            await open_from_complaint(
                "acme",
                complaint.model_copy(update={"category": "QUESTION", "ticket_id": "k3"}),
                tasks,
                routing,
                NOW,
            )

    asyncio.run(scenario())
    by_source = {t.source: t for t in tasks.docs.values()}
    assert len(tasks.docs) == 2 and len(tasks.events) == 2
    assert by_source[TaskSource.SURVEY].owner_id == "u-lead"
    assert by_source[TaskSource.SURVEY].due_at == NOW + DEFAULT_DUE
    assert by_source[TaskSource.TICKET].title == "Complaint: Rude call"
    assert by_source[TaskSource.TICKET].owner_id == "agent"  # no department: the opener
    assert tasks.events[0].type == "crm.servicedesk.improvement_task_opened"


class _Customers:
    async def get(self, customer_id: str) -> None:
        return None


class _Settings:
    async def departments(self) -> dict[str, str | None]:
        return {"support": "u-lead", "field": None}


def test_only_the_owner_or_the_teams_manager_change_a_task() -> None:
    tasks = _FakeTasks()
    tasks.docs["t1"] = _task()

    def service(principal: Principal) -> ImprovementTaskService:
        return ImprovementTaskService(
            principal,
            tasks,
            _Customers(),
            _Settings(),
            clock=lambda: NOW,  # type: ignore[arg-type]
        )

    async def scenario() -> None:
        other_agent = service(_principal(Role.SERVICE_AGENT, user="u-other"))
        with pytest.raises(Forbidden):
            await other_agent.update("t1", status=TaskStatus.IN_PROGRESS)
        owner = service(_principal(Role.SERVICE_AGENT, user="u-owner"))
        with pytest.raises(Forbidden):
            await owner.update("t1", owner_id="u-else")
        started = await owner.update("t1", status=TaskStatus.IN_PROGRESS)
        assert started.status is TaskStatus.IN_PROGRESS and started.version == 1
        other_manager = service(_principal(Role.SERVICE_MANAGER, user="m2", team="field"))
        with pytest.raises(NotFound):  # another team's task is not theirs to see
            await other_manager.close("t1", TaskStatus.DONE, "x")
        with pytest.raises(Forbidden):
            await service(_principal(Role.SERVICE_AGENT)).create(
                NewTaskCommand(title="x", owner_id="u", due_at=NOW)
            )
        manager = service(_principal(Role.SERVICE_MANAGER, user="m1", team="support"))
        done = await manager.close("t1", TaskStatus.DONE, "coached")
        assert done.status is TaskStatus.DONE

    asyncio.run(scenario())
    assert [e.type.rsplit(".", 1)[1] for e in tasks.events] == [
        "improvement_task_updated",
        "improvement_task_closed",
    ]


class _Reader:
    def __init__(self) -> None:
        self.views: list[tuple[Visibility, Visibility]] = []

    async def summary(
        self, customer_id: str, view: Visibility, surveys: Visibility
    ) -> ServiceSummary:
        self.views.append((view, surveys))
        return ServiceSummary(0, 0, 0, 0, 0, 0, None, None, None, 0, None)


def test_the_profile_summary_reads_what_the_caller_may_see() -> None:
    reader = _Reader()

    async def scenario() -> None:
        for principal in (
            _principal(Role.SERVICE_MANAGER, user="m1"),
            _principal(Role.SALES_REP, user="rep"),
            _principal(Role.SERVICE_AGENT),
        ):
            await SummaryService(principal, reader, _Customers()).for_customer("c1")  # type: ignore[arg-type]

    asyncio.run(scenario())
    manager, rep, agent = reader.views
    assert manager[0].team == "support" and manager[1].everything  # surveys: the whole desk's
    assert rep[0].task_owner == "rep" and not rep[0].everything and not rep[1].everything
    assert agent[0].everything and agent[1].everything
