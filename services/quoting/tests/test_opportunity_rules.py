"""Rules of opportunities: validation, stages and who sees what (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden
from crm_common.pagination import Page, PageRequest
from crm_quoting.domain.opportunity import (
    INITIAL_STAGE,
    NAME_MAX,
    Opportunity,
    OpportunityStage,
    validate_new_opportunity,
)
from crm_quoting.domain.permissions import Visibility, can_create, visibility
from crm_quoting.service.opportunities import CreateOpportunityCommand, OpportunityService


def _principal(*roles: str, user: str = "u1") -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles))


def test_name_is_trimmed_and_spaces_collapsed() -> None:
    new = validate_new_opportunity(customer_id=" c1 ", name="  Big   deal ")
    assert new.name == "Big deal"
    assert new.customer_id == "c1"


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_blank_name_is_rejected_on_input_name(name: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_opportunity(customer_id="c1", name=name)
    assert exc.value.field == "input.name"


def test_name_length_limit() -> None:
    assert validate_new_opportunity(customer_id="c1", name="x" * NAME_MAX).name == "x" * NAME_MAX
    with pytest.raises(BadUserInput) as exc:
        validate_new_opportunity(customer_id="c1", name="x" * (NAME_MAX + 1))
    assert exc.value.field == "input.name"


def test_blank_customer_is_rejected() -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_opportunity(customer_id=" ", name="Deal")
    assert exc.value.field == "input.customerId"


def test_stages() -> None:
    assert INITIAL_STAGE is OpportunityStage.INITIAL_CONTACT
    assert [s for s in OpportunityStage if s.is_closed] == [
        OpportunityStage.WON,
        OpportunityStage.LOST,
    ]


def test_sales_reps_see_their_own_and_readers_see_all() -> None:
    assert visibility(_principal(Role.SALES_REP, user="rep")) == Visibility(owner_id="rep")
    for role in (Role.SALES_MANAGER, Role.ADMIN, Role.ANALYST):
        assert visibility(_principal(role)).everything
    # The broader role wins when a user holds both.
    assert visibility(_principal(Role.SALES_REP, Role.SALES_MANAGER)).everything


def test_roles_without_access_are_forbidden() -> None:
    with pytest.raises(Forbidden):
        visibility(_principal(Role.SERVICE_AGENT))
    with pytest.raises(Forbidden):
        can_create(_principal(Role.ANALYST))
    can_create(_principal(Role.SALES_REP))


class _FakeRepository:
    tenant_id = "t1"

    def __init__(self) -> None:
        self.added: list[Opportunity] = []

    async def add(self, opportunity: Opportunity) -> None:
        self.added.append(opportunity)

    async def get(self, opportunity_id: str, visibility: Visibility) -> Opportunity | None:
        return None

    async def list(
        self, customer_id: str | None, page: PageRequest, visibility: Visibility
    ) -> Page[Opportunity]:
        return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)


async def test_create_starts_at_initial_contact_owned_by_the_caller() -> None:
    repo = _FakeRepository()
    now = datetime(2026, 1, 2, tzinfo=UTC)
    service = OpportunityService(_principal(Role.SALES_REP, user="rep"), repo, clock=lambda: now)
    created = await service.create(CreateOpportunityCommand(customer_id="c1", name=" Deal "))
    assert repo.added == [created]
    assert created.stage is OpportunityStage.INITIAL_CONTACT
    assert (created.owner_id, created.tenant_id, created.name) == ("rep", "t1", "Deal")
    assert created.created_at == now


async def test_invalid_create_stores_nothing() -> None:
    repo = _FakeRepository()
    service = OpportunityService(_principal(Role.SALES_REP), repo)
    with pytest.raises(BadUserInput):
        await service.create(CreateOpportunityCommand(customer_id="c1", name=""))
    assert repo.added == []
