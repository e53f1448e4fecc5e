"""Rules of tickets: validation, workflow, SLA due times and breaches, roles (pure, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden
from crm_service_desk.domain.permissions import (
    CustomerRef,
    Visibility,
    can_configure,
    can_read,
    can_work,
    may_see_customer,
    visibility,
)
from crm_service_desk.domain.ticket import (
    DEFAULT_SLA,
    TITLE_MAX,
    SlaKind,
    SlaTarget,
    Ticket,
    TicketCategory,
    TicketPriority,
    TicketStatus,
    breaches_due,
    check_assignable,
    check_move,
    check_reopenable,
    due_times,
    validate_new_ticket,
    validate_sla_target,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _principal(*roles: str, user: str = "u1", team: str | None = None) -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles), team=team)


def _ticket(**changes: object) -> Ticket:
    response_due, resolution_due = due_times(DEFAULT_SLA[TicketPriority.HIGH], T0)
    ticket = Ticket(
        id="tk1",
        tenant_id="t1",
        customer_id="c1",
        title="Broken",
        description="",
        category=TicketCategory.INCIDENT,
        priority=TicketPriority.HIGH,
        status=TicketStatus.NEW,
        opened_by="agent",
        created_at=T0,
        response_due_at=response_due,
        resolution_due_at=resolution_due,
    )
    return replace(ticket, **changes)  # type: ignore[arg-type]


def test_defaults_and_trimming() -> None:
    new = validate_new_ticket(customer_id="c1", title="  Login   fails ", priority=None)
    assert (new.title, new.priority, new.category) == (
        "Login fails",
        TicketPriority.MEDIUM,
        TicketCategory.OTHER,
    )


@pytest.mark.parametrize("title", ["", "  ", "x" * (TITLE_MAX + 1)])
def test_bad_titles_are_rejected_on_input_title(title: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_ticket(customer_id="c1", title=title, priority=None)
    assert exc.value.field == "input.title"


def test_blank_customer_is_rejected() -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_ticket(customer_id="", title="Broken", priority=None)
    assert exc.value.field == "input.customerId"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS),
        (TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER),
        (TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.IN_PROGRESS),
        (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED),
        (TicketStatus.RESOLVED, TicketStatus.CLOSED),
    ],
)
def test_allowed_moves(current: TicketStatus, target: TicketStatus) -> None:
    check_move(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (TicketStatus.NEW, TicketStatus.IN_PROGRESS),
        (TicketStatus.NEW, TicketStatus.ASSIGNED),
        (TicketStatus.ASSIGNED, TicketStatus.CLOSED),
        (TicketStatus.CLOSED, TicketStatus.IN_PROGRESS),
        (TicketStatus.RESOLVED, TicketStatus.WAITING_ON_CUSTOMER),
    ],
)
def test_illegal_moves_are_bad_input(current: TicketStatus, target: TicketStatus) -> None:
    with pytest.raises(BadUserInput) as exc:
        check_move(current, target)
    assert exc.value.field == "input.status"


def test_only_open_tickets_are_assigned_and_only_done_ones_reopened() -> None:
    check_assignable(TicketStatus.IN_PROGRESS)
    check_reopenable(TicketStatus.CLOSED)
    with pytest.raises(BadUserInput):
        check_assignable(TicketStatus.RESOLVED)
    with pytest.raises(BadUserInput):
        check_reopenable(TicketStatus.IN_PROGRESS)


def test_due_times_follow_the_table_row() -> None:
    assert due_times(SlaTarget(TicketPriority.URGENT, 60, 600), T0) == (
        T0 + timedelta(seconds=60),
        T0 + timedelta(seconds=600),
    )
    with pytest.raises(BadUserInput) as exc:
        validate_sla_target(SlaTarget(TicketPriority.LOW, 600, 60), "input.targets.0")
    assert exc.value.field == "input.targets.0.resolutionSeconds"


def test_breaches_due_reports_each_kind_once_and_never_for_done_tickets() -> None:
    ticket = _ticket()
    assert breaches_due(ticket, T0) == []
    late = ticket.resolution_due_at + timedelta(seconds=1)
    assert breaches_due(ticket, late) == [SlaKind.RESPONSE, SlaKind.RESOLUTION]
    reported = replace(ticket, response_breached_at=late)
    assert breaches_due(reported, late) == [SlaKind.RESOLUTION]
    responded = replace(ticket, responded_at=T0)
    assert breaches_due(responded, late) == [SlaKind.RESOLUTION]
    assert breaches_due(replace(ticket, status=TicketStatus.RESOLVED), late) == []


def test_roles() -> None:
    can_work(_principal(Role.SERVICE_AGENT))
    can_read(_principal(Role.ANALYST))
    can_configure(_principal(Role.ADMIN))
    for role in (Role.ANALYST, Role.SALES_REP):
        with pytest.raises(Forbidden):
            can_work(_principal(role))
    with pytest.raises(Forbidden):
        can_configure(_principal(Role.SERVICE_MANAGER))
    with pytest.raises(Forbidden):
        can_read(_principal())


def test_visibility() -> None:
    assert visibility(_principal(Role.SERVICE_AGENT)).everything
    assert visibility(_principal(Role.ANALYST)).everything
    manager = visibility(_principal(Role.SERVICE_MANAGER, user="m", team="network"))
    assert manager == Visibility(team="network", escalated_to="m")
    rep = _principal(Role.SALES_REP, user="alice")
    assert visibility(rep) == Visibility(customer_owner="alice")
    assert may_see_customer(rep, CustomerRef("c1", "t1", "A", owner_id="alice"))
    assert not may_see_customer(rep, CustomerRef("c2", "t1", "B", owner_id="bob"))
    assert not may_see_customer(rep, None)
