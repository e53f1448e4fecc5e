"""Improvement task use cases: open (automatically or by hand), work, close, announce overdue.

Automatic tasks come from events (a low survey answer, a complaint ticket) and take the id
`task_id_for` derives from their source: any number of deliveries, replays or replicas open one
task, because the second insert of that id is refused (and its staged event with it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.auth import Principal, Role
from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.servicedesk import (
    ImprovementTaskClosed,
    ImprovementTaskOpened,
    ImprovementTaskOverdue,
    ImprovementTaskUpdated,
    SurveyResponded,
    TicketOpened,
)
from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_common.scheduling import DueLoop
from crm_service_desk.domain.improvement import (
    DEFAULT_DUE,
    ImprovementTask,
    TaskHistoryEntry,
    TaskSource,
    TaskStatus,
    apply_changes,
    close,
    complaint_task_title,
    low_scores,
    mark_overdue,
    only_progress,
    survey_task_title,
    task_id_for,
    validate_changes,
    validate_due,
    validate_title,
)
from crm_service_desk.domain.permissions import (
    can_manage_tasks,
    can_read,
    manages_team,
    may_see_customer,
    task_visibility,
)
from crm_service_desk.domain.ticket import NOTE_MAX, clean_name, clean_text
from crm_service_desk.service.ports import (
    CustomerRefRepository,
    DeskSettingsRepository,
    ImprovementTaskRepository,
    OverdueTaskStore,
    TaskFilter,
    TaskRouting,
)
from crm_service_desk.service.tickets import desk_event

LEASE_NAME = "service-desk.improvement-task-overdue"


def task_event(task: ImprovementTask, payload: EventData) -> CloudEvent:
    return desk_event(payload, task.tenant_id, task.customer_id or task.id)


def opened_event(task: ImprovementTask) -> CloudEvent:
    """Automatic tasks announce themselves under an id derived from the task's (itself derived
    from its source), so two replicas opening the same task stage the same event."""
    event = task_event(
        task,
        ImprovementTaskOpened(
            task_id=task.id,
            customer_id=task.customer_id,
            team=task.team,
            owner_id=task.owner_id,
            title=task.title,
            source=task.source.value,
            source_id=task.source_id,
            due_at=task.due_at,
            opened_by=task.opened_by,
            opened_at=task.created_at,
        ),
    )
    if task.source is TaskSource.MANUAL:
        return event
    return event.with_id(
        deterministic_event_id("service-desk.task-opened", task.tenant_id, task.id)
    )


def _new_task(
    tenant_id: str,
    task_id: str,
    *,
    title: str,
    description: str,
    source: TaskSource,
    source_id: str | None,
    customer_id: str | None,
    team: str | None,
    owner_id: str | None,
    due_at: datetime,
    opened_by: str,
    now: datetime,
) -> ImprovementTask:
    return ImprovementTask(
        id=task_id,
        tenant_id=tenant_id,
        title=title,
        description=description,
        source=source,
        source_id=source_id,
        customer_id=customer_id,
        team=team,
        owner_id=owner_id,
        status=TaskStatus.OPEN,
        due_at=due_at,
        opened_by=opened_by,
        created_at=now,
        updated_at=now,
        history=(TaskHistoryEntry("OPENED", opened_by, now),),
    )


async def _open_automatic(
    tenant_id: str,
    tasks: ImprovementTaskRepository,
    *,
    source: TaskSource,
    source_id: str,
    title: str,
    description: str,
    customer_id: str | None,
    team: str | None,
    owner_id: str | None,
    since: datetime,
    now: datetime,
) -> ImprovementTask | None:
    """A system task under the id its source derives (so once per source), due
    `DEFAULT_DUE` after ``since``; None when that source has its task already."""
    task = _new_task(
        tenant_id,
        task_id_for(tenant_id, source, source_id),
        title=title,
        description=description,
        source=source,
        source_id=source_id,
        customer_id=customer_id,
        team=team,
        owner_id=owner_id,
        due_at=since + DEFAULT_DUE,
        opened_by="system",
        now=now,
    )
    return task if await tasks.add(task, [opened_event(task)]) else None


async def open_from_survey(
    tenant_id: str,
    payload: SurveyResponded,
    tasks: ImprovementTaskRepository,
    routing: TaskRouting,
    now: datetime,
) -> ImprovementTask | None:
    """A task for an answer scoring some dimension 1 or 2 (once per survey), else nothing."""
    if not low_scores(payload.scores):
        return None
    team, owner = await routing.for_subject(payload.subject_type, payload.subject_id)
    title, description = survey_task_title(payload.subject_type, payload.scores)
    return await _open_automatic(
        tenant_id,
        tasks,
        source=TaskSource.SURVEY,
        source_id=payload.survey_id,
        title=title,
        description=description,
        customer_id=payload.customer_id,
        team=team,
        owner_id=owner,
        since=payload.responded_at,
        now=now,
    )


async def open_from_complaint(
    tenant_id: str,
    payload: TicketOpened,
    tasks: ImprovementTaskRepository,
    routing: TaskRouting,
    now: datetime,
) -> ImprovementTask | None:
    """A task for every COMPLAINT ticket (once per ticket)."""
    if payload.category != "COMPLAINT":
        return None
    team, owner = await routing.for_department(payload.department, payload.opened_by)
    title, description = complaint_task_title(payload.title)
    return await _open_automatic(
        tenant_id,
        tasks,
        source=TaskSource.TICKET,
        source_id=payload.ticket_id,
        title=title,
        description=description,
        customer_id=payload.customer_id,
        team=team,
        owner_id=owner,
        since=payload.opened_at,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class NewTaskCommand:
    title: str
    owner_id: str
    due_at: datetime
    description: str | None = None
    team: str | None = None
    customer_id: str | None = None
    source: TaskSource = TaskSource.MANUAL
    source_id: str | None = None


class ImprovementTaskService:
    """Use cases for one request's principal; the repositories are bound to its tenant."""

    def __init__(
        self,
        principal: Principal,
        tasks: ImprovementTaskRepository,
        customers: CustomerRefRepository,
        settings: DeskSettingsRepository,
        notify_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._tasks = tasks
        self._customers = customers
        self._settings = settings
        self._notify = notify_outbox
        self._clock = clock

    async def create(self, command: NewTaskCommand) -> ImprovementTask:
        """A task opened by a service manager or admin (MANUAL, or naming its survey/ticket)."""
        principal = self._principal
        can_manage_tasks(principal)
        now = self._clock()
        title = validate_title(command.title)
        owner = clean_name(command.owner_id, "input.ownerId", required=True)
        team = clean_name(command.team, "input.team")
        if team is None and not principal.has_role(Role.ADMIN):
            team = principal.team  # a service manager's task is their team's
        if not manages_team(principal, team):
            raise Forbidden("a service manager opens tasks for their own team", field="input.team")
        if team is not None and team not in await self._settings.departments():
            raise NotFound(f"no department {team}", field="input.team")
        due = validate_due(command.due_at, now)
        customer_id = clean_name(command.customer_id, "input.customerId")
        if customer_id is not None and await self._customers.get(customer_id) is None:
            raise NotFound(f"customer {customer_id} not found", field="input.customerId")
        source_id = clean_name(command.source_id, "input.sourceId")
        if command.source is not TaskSource.MANUAL and source_id is None:
            raise BadUserInput("a SURVEY or TICKET task names its source", field="input.sourceId")
        task = _new_task(
            principal.tenant_id,
            str(uuid.uuid4()),
            title=title,
            description=clean_text(command.description, "input.description", NOTE_MAX),
            source=command.source,
            source_id=source_id if command.source is not TaskSource.MANUAL else None,
            customer_id=customer_id,
            team=team,
            owner_id=owner,
            due_at=due,
            opened_by=principal.user_id,
            now=now,
        )
        await self._tasks.add(task, [opened_event(task)])
        self._notify()
        return task

    async def _editable(self, task_id: str) -> ImprovementTask:
        task = await self._tasks.get(task_id, task_visibility(self._principal))
        if task is None:
            raise NotFound(f"improvement task {task_id} not found", field="input.taskId")
        return task

    def _may_progress(self, task: ImprovementTask) -> bool:
        return task.owner_id == self._principal.user_id or manages_team(self._principal, task.team)

    async def _save(
        self, before: ImprovementTask, after: ImprovementTask, event: CloudEvent
    ) -> ImprovementTask:
        saved = replace(after, version=before.version + 1)
        if not await self._tasks.save(saved, before.version, [event]):
            raise Conflict("the task changed meanwhile; reload it and try again")
        self._notify()
        return saved

    async def update(
        self,
        task_id: str,
        *,
        title: str | None = None,
        description: str | None = None,
        owner_id: str | None = None,
        team: str | None = None,
        due_at: datetime | None = None,
        status: TaskStatus | None = None,
    ) -> ImprovementTask:
        """The owner starts the task; its team's manager (or an admin) edits anything open."""
        task = await self._editable(task_id)
        now = self._clock()
        changes = validate_changes(
            title=title,
            description=description,
            owner_id=owner_id,
            team=team,
            due_at=due_at,
            status=status,
            now=now,
        )
        manager = manages_team(self._principal, task.team)
        if not manager and not (only_progress(changes) and self._may_progress(task)):
            raise Forbidden(
                "only the task's owner may start it, and only its team's service manager or an "
                "admin may change it"
            )
        if changes.team is not None:
            if not manages_team(self._principal, changes.team):
                raise Forbidden("you do not manage that team", field="input.team")
            if changes.team not in await self._settings.departments():
                raise NotFound(f"no department {changes.team}", field="input.team")
        updated = apply_changes(task, changes, self._principal.user_id, now)
        event = task_event(
            updated,
            ImprovementTaskUpdated(
                task_id=updated.id,
                customer_id=updated.customer_id,
                team=updated.team,
                owner_id=updated.owner_id,
                status=updated.status.value,
                due_at=updated.due_at,
                actor_id=self._principal.user_id,
                updated_at=now,
            ),
        )
        return await self._save(task, updated, event)

    async def close(self, task_id: str, outcome: TaskStatus, note: str) -> ImprovementTask:
        """DONE or CANCELLED with a closure note, by the owner or the team's manager."""
        task = await self._editable(task_id)
        if not self._may_progress(task):
            raise Forbidden("only the task's owner or its team's service manager may close it")
        now = self._clock()
        closed = close(task, outcome, note, self._principal.user_id, now)
        event = task_event(
            closed,
            ImprovementTaskClosed(
                task_id=closed.id,
                customer_id=closed.customer_id,
                team=closed.team,
                owner_id=closed.owner_id,
                status=closed.status.value,
                due_at=closed.due_at,
                overdue=closed.overdue(now),
                actor_id=self._principal.user_id,
                closed_at=now,
            ),
        )
        return await self._save(task, closed, event)

    async def get(self, task_id: str) -> ImprovementTask | None:
        return await self._tasks.get(task_id, task_visibility(self._principal))

    async def listing(self, filter: TaskFilter, page: PageRequest) -> Page[ImprovementTask]:
        can_read(self._principal)
        return await self._tasks.listing(
            filter, task_visibility(self._principal), page, self._clock()
        )

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[ImprovementTask]:
        view = task_visibility(self._principal)
        if not view.everything and may_see_customer(
            self._principal, await self._customers.get(customer_id)
        ):
            view = replace(view, everything=True)
        return await self._tasks.listing(
            TaskFilter(customer_id=customer_id), view, page, self._clock()
        )


class OverdueTaskMonitor:
    """Announces each open task whose due time passed, once (``improvement_task_overdue``).

    The lease holder runs it (`crm_common.scheduling.DueLoop`); the claim is the insert of a
    record named after the task and its due time, carrying the event (outbox), so two replicas
    during a lease handover announce it once. A replica that finds the claim taken completes the
    task's flag (the winner may have died before setting it)."""

    def __init__(
        self,
        store: OverdueTaskStore,
        notify_outbox: Callable[[], None],
        interval_s: float,
        batch: int = 200,
        clock: Callable[[], datetime] = utc_now,
        lease: Lease | None = None,
    ) -> None:
        self._store = store
        self._notify = notify_outbox
        self._batch = batch
        self.announced = 0
        self._loop = DueLoop(
            "improvement-task-overdue",
            self,
            lease=lease,
            sweep_s=interval_s,
            clock=clock,
        )

    async def start(self, app: object = None) -> None:
        await self._loop.start(app)

    async def stop(self, app: object = None) -> None:
        await self._loop.stop(app)

    def wake(self) -> None:
        self._loop.wake()

    async def next_due(self, horizon: datetime) -> datetime | None:
        return await self._store.next_due(horizon)

    async def run_due(self, now: datetime) -> int:
        handled = 0
        for task in await self._store.due(now, self._batch):
            event = task_event(
                task,
                ImprovementTaskOverdue(
                    task_id=task.id,
                    customer_id=task.customer_id,
                    team=task.team,
                    owner_id=task.owner_id,
                    due_at=task.due_at,
                    detected_at=now,
                ),
            ).with_id(
                # The same announcement on any replica is the same event.
                deterministic_event_id(
                    "service-desk.task-overdue", task.tenant_id, task.id, task.due_at.isoformat()
                )
            )
            if await self._store.claim_overdue(mark_overdue(task, now), [event]):
                self.announced += 1
            handled += 1
        if handled:
            self._notify()
        return handled
