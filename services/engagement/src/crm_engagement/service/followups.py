"""Follow-up use cases: schedule (by hand or from a cadence proposal), complete, cancel, list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import Conflict, Forbidden, NotFound
from crm_common.events.contracts.engagement import (
    FollowUpCompleted,
    FollowUpParticipantsChanged,
    FollowUpScheduled,
)
from crm_common.events.outbox import new_event
from crm_common.localtime import UTC_ZONE, local_date, local_day_bounds
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.care import (
    WITHDRAWN_CHURNED,
    is_last_of_round,
    next_round,
    round_of,
    visit_tasks,
)
from crm_engagement.domain.followup import (
    ACTIVE,
    FollowUp,
    FollowUpOrigin,
    FollowUpStatus,
    FollowUpType,
    Priority,
    changed_participants,
    check_cancellable,
    check_completable,
    clean_participant_ids,
    participates,
    propose_next,
    remind_time,
    validate_followup,
)
from crm_engagement.domain.interaction import Interaction, InteractionKind, as_utc
from crm_engagement.domain.permissions import may_write, require_writer
from crm_engagement.service.base import EVENT_SOURCE, UseCase
from crm_engagement.service.interactions import InteractionService, LogInteractionCommand
from crm_engagement.service.ports import FollowUpQuery, TenantStores


class DueWindow(StrEnum):
    """Which of my follow-ups: reminded already, overdue, due today, within 7 days, or all."""

    DUE = "due"
    OVERDUE = "overdue"
    TODAY = "today"
    NEXT_7_DAYS = "next_7_days"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class ScheduleCommand:
    customer_id: str
    type: FollowUpType
    due_at: datetime
    goal: str
    priority: Priority = Priority.MEDIUM
    assignee_id: str | None = None
    participant_ids: tuple[str, ...] = ()


def scheduled_event_payload(task: FollowUp) -> FollowUpScheduled:
    return FollowUpScheduled(
        followup_id=task.id,
        customer_id=task.customer_id,
        assignee_id=task.assignee_id,
        type=task.type.value,
        priority=task.priority.value,
        goal=task.goal,
        due_at=task.due_at,
        origin=task.origin.value,
        created_by=task.created_by,
        participant_ids=list(task.participant_ids),
    )


async def store_tasks(stores: TenantStores, tasks: list[FollowUp]) -> int:
    """Insert each task with its ``followup_scheduled`` event (made by the system: a care plan
    or planned touches); a task whose id exists already is skipped. How many were new."""
    created = 0
    for task in tasks:
        event = new_event(
            scheduled_event_payload(task),
            source=EVENT_SOURCE,
            tenant_id=task.tenant_id,
            key=task.customer_id,
        )
        created += await stores.followups.add(task, [event])
    return created


async def extend_care_plan(stores: TenantStores, task: FollowUp, now: datetime) -> int:
    """The last visit of a care plan's round was finished: create the next round (its ids
    derive from the plan and the visit number, so doing it twice creates nothing new)."""
    if task.origin is not FollowUpOrigin.CARE_PLAN or task.origin_event_id is None:
        return 0
    plan = await stores.care.get_plan(task.origin_event_id)
    if plan is None or plan.withdrawn or not is_last_of_round(plan, task.due_at):
        return 0
    engagement = await stores.settings.get()
    created = await store_tasks(
        stores, visit_tasks(plan, next_round(plan, round_of(plan, task.due_at)), engagement, now)
    )
    # Withdrawn meanwhile (the customer churned while this visit was finished): the
    # withdrawal may have run before these visits existed, so they are cancelled here.
    again = await stores.care.get_plan(plan.id)
    if created and again is not None and again.withdrawn:
        await stores.care.cancel_visits([plan.id], again.withdrawn_reason or WITHDRAWN_CHURNED, now)
    return created


class FollowUpService(UseCase):
    async def schedule(
        self, command: ScheduleCommand, origin: FollowUpOrigin = FollowUpOrigin.MANUAL
    ) -> FollowUp:
        require_writer(self._principal, "schedule follow-ups")
        now = self._clock()
        validate_followup(goal=command.goal, due_at=command.due_at, now=now)
        customer = await self._writable_customer(command.customer_id, "input.customerId")
        assignee = command.assignee_id or self._principal.user_id
        if assignee != self._principal.user_id and not self._principal.may("engagement:assign"):
            raise Forbidden(
                "only a manager may assign follow-ups to someone else (needs engagement:assign)",
                permission="engagement:assign",
            )
        settings = await self._stores.settings.get()
        due_at = as_utc(command.due_at)
        task = FollowUp(
            id=str(uuid.uuid4()),
            tenant_id=self._principal.tenant_id,
            customer_id=customer.id,
            type=command.type,
            due_at=due_at,
            remind_at=remind_time(due_at, settings),
            priority=command.priority,
            goal=command.goal.strip(),
            assignee_id=assignee,
            status=FollowUpStatus.OPEN,
            created_by=self._principal.user_id,
            created_at=now,
            origin=origin,
            participant_ids=clean_participant_ids(list(command.participant_ids), assignee),
        )
        await self._stores.followups.add(
            task, [self._event(scheduled_event_payload(task), task.customer_id)]
        )
        self._notify_outbox()
        return task

    async def schedule_from_proposal(
        self, customer_id: str, type: FollowUpType, goal: str | None
    ) -> FollowUp:
        """Create the follow-up the cadence proposes for this customer."""
        customer = await self._writable_customer(customer_id, "input.customerId")
        settings = await self._stores.settings.get()
        priority = Priority(customer.priority)
        proposal = propose_next(
            customer.id,
            priority,
            customer.last_interaction_at,
            self._clock(),
            settings,
            cadence=customer.cadence,
        )
        return await self.schedule(
            ScheduleCommand(
                customer_id=customer.id,
                type=type,
                due_at=proposal.due_at,
                goal=goal or f"Regular {priority.value}-priority follow-up",
                priority=priority,
            ),
            origin=FollowUpOrigin.CADENCE,
        )

    async def _task_to_change(self, followup_id: str) -> FollowUp:
        task = await self.get(followup_id)
        if task is None:
            raise NotFound(f"follow-up {followup_id} not found", field="input.id")
        if task.assignee_id == self._principal.user_id:
            return task
        # Seen as a participant, or through the customer: only its writers change it.
        customer = await self._stores.customers.get(task.customer_id)
        if customer is None or not may_write(self._principal, customer):
            raise Forbidden("you may not change this follow-up")
        return task

    async def complete(
        self, followup_id: str, outcome: str, kind: InteractionKind | None
    ) -> tuple[FollowUp, Interaction]:
        """Done, with its outcome logged as an interaction of the task's kind."""
        require_writer(self._principal, "complete follow-ups")
        task = await self._task_to_change(followup_id)
        check_completable(task, outcome)
        interactions = InteractionService(
            self._principal, self._stores, self._notify_outbox, self._clock
        )
        interaction = await interactions.log(
            LogInteractionCommand(
                customer_id=task.customer_id,
                kind=kind or InteractionKind(task.type.value),
                content=f"{task.goal}\n\nOutcome: {outcome.strip()}",
                feedback=outcome.strip(),
            ),
            followup_id=task.id,
        )
        now = self._clock()
        done = replace(
            task,
            status=FollowUpStatus.DONE,
            completed_at=now,
            outcome=outcome.strip(),
            interaction_id=interaction.id,
        )
        event = self._event(
            FollowUpCompleted(
                followup_id=done.id,
                customer_id=done.customer_id,
                assignee_id=done.assignee_id,
                outcome=outcome.strip(),
                interaction_id=interaction.id,
                completed_at=now,
            ),
            done.customer_id,
        )
        if not await self._stores.followups.finish(done, ACTIVE, [event]):
            raise Conflict("the follow-up was finished meanwhile", field="input.id")
        await extend_care_plan(self._stores, done, now)
        self._notify_outbox()
        return done, interaction

    async def cancel(self, followup_id: str) -> FollowUp:
        require_writer(self._principal, "cancel follow-ups")
        task = await self._task_to_change(followup_id)
        check_cancellable(task)
        cancelled = replace(task, status=FollowUpStatus.CANCELLED, completed_at=self._clock())
        if not await self._stores.followups.finish(cancelled, ACTIVE, []):
            raise Conflict("the follow-up was finished meanwhile", field="input.id")
        if await extend_care_plan(self._stores, cancelled, self._clock()):
            self._notify_outbox()
        return cancelled

    async def get(self, followup_id: str) -> FollowUp | None:
        task = await self._stores.followups.get(followup_id)
        if task is None:
            return None
        # The assignee and the participants see it, whoever owns the customer now.
        if participates(task, self._principal.user_id) or await self._may_see_id(task.customer_id):
            return task
        return None

    async def change_participants(
        self, followup_id: str, add: list[str], remove: list[str]
    ) -> FollowUp:
        """Colleagues join or leave a follow-up (the assignee, or who may change it, decides)."""
        require_writer(self._principal, "change follow-up participants")
        task = await self._task_to_change(followup_id)
        participant_ids, added, removed = changed_participants(task, add, remove)
        changed = replace(task, participant_ids=participant_ids)
        event = self._event(
            FollowUpParticipantsChanged(
                followup_id=task.id,
                customer_id=task.customer_id,
                assignee_id=task.assignee_id,
                added=added,
                removed=removed,
                participant_ids=list(participant_ids),
                changed_by=self._principal.user_id,
                changed_at=self._clock(),
            ),
            task.customer_id,
        )
        if not await self._stores.followups.set_participants(changed, [event]):
            raise Conflict("the follow-up was finished meanwhile", field="input.id")
        self._notify_outbox()
        return changed

    async def mine(
        self, window: DueWindow, page: PageRequest, *, participating: bool = False
    ) -> Page[FollowUp]:
        """The caller's open and overdue follow-ups in the given window, soonest first: the
        ones assigned to them, or (``participating``) the ones they joined as a participant."""
        now = self._clock()
        me = self._principal.user_id
        query = (
            FollowUpQuery(participant_id=me, statuses=ACTIVE)
            if participating
            else FollowUpQuery(assignee_id=me, statuses=ACTIVE)
        )
        match window:
            case DueWindow.DUE:
                query = replace(query, remind_before=now)
            case DueWindow.OVERDUE:
                query = replace(query, due_before=now)
            case DueWindow.TODAY:
                # The tenant's local day (crm_common.tenants), as UTC bounds.
                zone = await self._stores.zone() if self._stores.zone else UTC_ZONE
                start, end = local_day_bounds(local_date(now, zone), zone)
                query = replace(query, due_from=start, due_before=end)
            case DueWindow.NEXT_7_DAYS:
                query = replace(query, due_before=now + timedelta(days=7))
            case DueWindow.ALL:
                pass
        return await self._stores.followups.list(query, page)

    async def for_customer(
        self, customer_id: str, statuses: tuple[FollowUpStatus, ...], page: PageRequest
    ) -> Page[FollowUp]:
        if not await self._may_see_id(customer_id):
            return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)
        query = FollowUpQuery(customer_ids=[customer_id], statuses=statuses)
        return await self._stores.followups.list(query, page)
