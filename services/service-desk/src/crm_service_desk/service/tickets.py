"""Ticket use cases: open, dispatch, move through the workflow, resolve, reopen, read."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.customers.copies import arriving_customer
from crm_common.errors import Conflict, NotFound
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.servicedesk import (
    TicketAssigned,
    TicketOpened,
    TicketReopened,
    TicketResolved,
    TicketStatusChanged,
)
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.permissions import can_work, may_see_customer, visibility
from crm_service_desk.domain.ticket import (
    INITIAL_STATUS,
    NOTE_MAX,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    check_assignable,
    check_move,
    check_reopenable,
    clean_name,
    clean_text,
    counts_as_response,
    due_times,
    validate_new_ticket,
)
from crm_service_desk.service.ports import (
    CustomerRefRepository,
    DeskSettingsRepository,
    TicketRepository,
)

EVENT_SOURCE = "crm/service-desk"


def desk_event(payload: EventData, tenant_id: str, key: str) -> CloudEvent:
    return new_event(payload, source=EVENT_SOURCE, tenant_id=tenant_id, key=key)


@dataclass(frozen=True, slots=True)
class OpenTicketCommand:
    customer_id: str
    title: str
    priority: TicketPriority | None = None
    description: str | None = None
    category: TicketCategory | None = None
    department: str | None = None


class TicketService:
    """Use cases for one request's principal; the repositories are bound to its tenant."""

    def __init__(
        self,
        principal: Principal,
        tickets: TicketRepository,
        customers: CustomerRefRepository,
        settings: DeskSettingsRepository,
        notify_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._tickets = tickets
        self._customers = customers
        self._settings = settings
        self._notify = notify_outbox
        self._clock = clock

    async def open(self, command: OpenTicketCommand) -> Ticket:
        principal = self._principal
        can_work(principal)
        new = validate_new_ticket(
            customer_id=command.customer_id,
            title=command.title,
            priority=command.priority,
            description=command.description,
            category=command.category,
            department=command.department,
        )
        # Known from the customer service's events (usually within a second of creation): waits
        # briefly for a customer created a moment ago (CUSTOMER_NOT_READY if it stays away).
        await arriving_customer(self._customers.get, new.customer_id, field="input.customerId")
        if new.department is not None and new.department not in await self._settings.departments():
            raise NotFound(f"no department {new.department}", field="input.department")
        now = self._clock()
        table = await self._settings.sla_table()
        response_due, resolution_due = due_times(table[new.priority], now)
        ticket = Ticket(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            customer_id=new.customer_id,
            title=new.title,
            description=new.description,
            category=new.category,
            priority=new.priority,
            status=INITIAL_STATUS,
            opened_by=principal.user_id,
            created_at=now,
            response_due_at=response_due,
            resolution_due_at=resolution_due,
            department=new.department,
            history=(TicketEvent("OPENED", principal.user_id, now, to_status=INITIAL_STATUS),),
        )
        event = desk_event(
            TicketOpened(
                ticket_id=ticket.id,
                customer_id=ticket.customer_id,
                title=ticket.title,
                category=ticket.category.value,
                priority=ticket.priority.value,
                department=ticket.department,
                opened_by=ticket.opened_by,
                response_due_at=response_due,
                resolution_due_at=resolution_due,
                opened_at=now,
            ),
            principal.tenant_id,
            ticket.customer_id,
        )
        await self._tickets.add(ticket, [event])
        self._notify()
        return ticket

    async def _workable(self, ticket_id: str) -> Ticket:
        can_work(self._principal)
        ticket = await self._tickets.get(ticket_id, visibility(self._principal))
        if ticket is None:
            raise NotFound(f"ticket {ticket_id} not found", field="input.ticketId")
        return ticket

    async def _save(self, before: Ticket, after: Ticket, events: list[CloudEvent]) -> Ticket:
        saved = replace(after, version=before.version + 1)
        if not await self._tickets.save(saved, before.version, events):
            raise Conflict("the ticket changed meanwhile; reload it and try again")
        self._notify()
        return saved

    def _entry(
        self, action: str, ticket: Ticket, to: TicketStatus | None, note: str | None, now: datetime
    ) -> tuple[TicketEvent, ...]:
        entry = TicketEvent(action, self._principal.user_id, now, ticket.status, to, note)
        return (*ticket.history, entry)

    async def assign(self, ticket_id: str, department: str, assignee_id: str) -> Ticket:
        ticket = await self._workable(ticket_id)
        check_assignable(ticket.status)
        clean_department = clean_name(department, "input.department", required=True)
        clean_assignee = clean_name(assignee_id, "input.assigneeId", required=True)
        assert clean_department is not None
        assert clean_assignee is not None
        if clean_department not in await self._settings.departments():
            raise NotFound(f"no department {clean_department}", field="input.department")
        now = self._clock()
        # Dispatch of a new ticket makes it ASSIGNED; re-dispatching work in hand keeps its status.
        status = TicketStatus.ASSIGNED if ticket.status is TicketStatus.NEW else ticket.status
        updated = replace(
            ticket,
            department=clean_department,
            assignee_id=clean_assignee,
            status=status,
            history=self._entry("ASSIGNED", ticket, status, clean_assignee, now),
        )
        event = desk_event(
            TicketAssigned(
                ticket_id=ticket.id,
                customer_id=ticket.customer_id,
                department=clean_department,
                assignee_id=clean_assignee,
                actor_id=self._principal.user_id,
                assigned_at=now,
            ),
            ticket.tenant_id,
            ticket.customer_id,
        )
        return await self._save(ticket, updated, [event])

    async def change_status(
        self, ticket_id: str, status: TicketStatus, note: str | None = None
    ) -> Ticket:
        ticket = await self._workable(ticket_id)
        check_move(ticket.status, status)
        clean_note = clean_text(note, "input.note", NOTE_MAX) or None
        now = self._clock()
        updated = replace(
            ticket,
            status=status,
            history=self._entry("STATUS_CHANGED", ticket, status, clean_note, now),
        )
        if ticket.responded_at is None and counts_as_response(status):
            updated = replace(updated, responded_at=now)
        events: list[CloudEvent] = []
        if status is TicketStatus.RESOLVED:
            updated = replace(updated, resolved_at=now, resolution=clean_note)
            events.append(
                desk_event(
                    TicketResolved(
                        ticket_id=ticket.id,
                        customer_id=ticket.customer_id,
                        priority=ticket.priority.value,
                        resolved_by=self._principal.user_id,
                        within_sla=now <= ticket.resolution_due_at,
                        opened_at=ticket.created_at,
                        resolved_at=now,
                    ),
                    ticket.tenant_id,
                    ticket.customer_id,
                )
            )
        else:
            # Screens follow a ticket live (ticketChanged) from its events.
            events.append(
                desk_event(
                    TicketStatusChanged(
                        ticket_id=ticket.id,
                        customer_id=ticket.customer_id,
                        from_status=ticket.status.value,
                        to_status=status.value,
                        actor_id=self._principal.user_id,
                        changed_at=now,
                    ),
                    ticket.tenant_id,
                    ticket.customer_id,
                )
            )
        return await self._save(ticket, updated, events)

    async def reopen(self, ticket_id: str, reason: str | None) -> Ticket:
        ticket = await self._workable(ticket_id)
        check_reopenable(ticket.status)
        clean_reason = clean_text(reason, "input.reason", NOTE_MAX) or None
        now = self._clock()
        status = TicketStatus.IN_PROGRESS if ticket.assignee_id else TicketStatus.NEW
        updated = replace(
            ticket,
            status=status,
            resolved_at=None,
            history=self._entry("REOPENED", ticket, status, clean_reason, now),
        )
        event = desk_event(
            TicketReopened(
                ticket_id=ticket.id,
                customer_id=ticket.customer_id,
                actor_id=self._principal.user_id,
                reason=clean_reason,
                reopened_at=now,
            ),
            ticket.tenant_id,
            ticket.customer_id,
        )
        return await self._save(ticket, updated, [event])

    async def get(self, ticket_id: str) -> Ticket | None:
        return await self._tickets.get(ticket_id, visibility(self._principal))

    async def listing(self, filter_input: Any, page: PageRequest) -> Page[Ticket]:
        return await self._tickets.listing(filter_input, visibility(self._principal), page)

    async def for_customer(self, customer_id: str, page: PageRequest) -> Page[Ticket]:
        view = visibility(self._principal)
        if not view.everything and may_see_customer(
            self._principal, await self._customers.get(customer_id)
        ):
            view = replace(view, everything=True)  # the whole customer is theirs to read
        return await self._tickets.listing(None, view, page, customer_id=customer_id)
