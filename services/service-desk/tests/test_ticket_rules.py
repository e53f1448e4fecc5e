"""Rules of tickets: validation, defaults and roles (pure, no I/O)."""

from __future__ import annotations

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden
from crm_common.pagination import Page, PageRequest
from crm_service_desk.domain.permissions import can_open, can_read
from crm_service_desk.domain.ticket import (
    TITLE_MAX,
    Ticket,
    TicketPriority,
    TicketStatus,
    validate_new_ticket,
)
from crm_service_desk.service.tickets import OpenTicketCommand, TicketService


def _principal(*roles: str, user: str = "u1") -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles))


def test_priority_defaults_to_medium() -> None:
    assert validate_new_ticket(customer_id="c1", title="Broken", priority=None).priority is (
        TicketPriority.MEDIUM
    )
    new = validate_new_ticket(customer_id="c1", title="Broken", priority=TicketPriority.HIGH)
    assert new.priority is TicketPriority.HIGH


def test_title_is_trimmed() -> None:
    assert validate_new_ticket(customer_id="c1", title="  Login   fails ", priority=None).title == (
        "Login fails"
    )


@pytest.mark.parametrize("title", ["", "  ", "x" * (TITLE_MAX + 1)])
def test_bad_titles_are_rejected_on_input_title(title: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_ticket(customer_id="c1", title=title, priority=None)
    assert exc.value.field == "input.title"


def test_title_at_the_limit_is_accepted() -> None:
    assert len(
        validate_new_ticket(customer_id="c1", title="x" * TITLE_MAX, priority=None).title
    ) == (TITLE_MAX)


def test_blank_customer_is_rejected() -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_ticket(customer_id="", title="Broken", priority=None)
    assert exc.value.field == "input.customerId"


def test_roles() -> None:
    can_open(_principal(Role.SERVICE_AGENT))
    can_read(_principal(Role.ANALYST))
    with pytest.raises(Forbidden):
        can_open(_principal(Role.ANALYST))
    with pytest.raises(Forbidden):
        can_read(_principal())


class _FakeRepository:
    tenant_id = "t1"

    def __init__(self) -> None:
        self.added: list[Ticket] = []

    async def add(self, ticket: Ticket) -> None:
        self.added.append(ticket)

    async def get(self, ticket_id: str) -> Ticket | None:
        return None

    async def list(self, customer_id: str | None, page: PageRequest) -> Page[Ticket]:
        return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)


async def test_open_starts_new_with_medium_priority() -> None:
    repo = _FakeRepository()
    service = TicketService(_principal(Role.SERVICE_AGENT, user="agent"), repo)
    ticket = await service.open(OpenTicketCommand(customer_id="c1", title="Broken"))
    assert repo.added == [ticket]
    assert ticket.status is TicketStatus.NEW
    assert ticket.priority is TicketPriority.MEDIUM
    assert (ticket.opened_by, ticket.tenant_id) == ("agent", "t1")
