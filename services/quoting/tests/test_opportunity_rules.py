"""Rules of opportunities: validation, pipeline moves, probabilities and who sees what."""

from __future__ import annotations

import pytest

from crm_common.auth import Principal, Role
from crm_common.errors import BadUserInput, Forbidden, NotFound
from crm_quoting.domain.opportunity import (
    DEFAULT_PROBABILITY,
    INITIAL_STAGE,
    NAME_MAX,
    OpportunityStage,
    check_move,
    validate_new_opportunity,
)
from crm_quoting.domain.permissions import (
    Visibility,
    can_change,
    can_create,
    can_manage_catalogue,
    can_see_customer,
    visibility,
)

S = OpportunityStage


def _principal(*roles: str, user: str = "u1", team: str | None = None) -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles), team=team)


def test_name_is_trimmed_and_defaults_apply() -> None:
    new = validate_new_opportunity(customer_id=" c1 ", name="  Big   deal ")
    assert (new.name, new.customer_id) == ("Big deal", "c1")
    assert new.probability == DEFAULT_PROBABILITY[INITIAL_STAGE] == 10
    assert (new.amount.amount_minor, new.amount.currency) == (0, "CNY")


def test_amount_and_probability_are_checked_on_their_fields() -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_opportunity(customer_id="c1", name="D", amount_minor="12.5")
    assert exc.value.field == "input.amount.amountMinor"
    with pytest.raises(BadUserInput) as exc:
        validate_new_opportunity(customer_id="c1", name="D", currency="RMB1")
    assert exc.value.field == "input.amount.currency"
    with pytest.raises(BadUserInput) as exc:
        validate_new_opportunity(customer_id="c1", name="D", probability=101)
    assert exc.value.field == "input.probability"
    chosen = validate_new_opportunity(customer_id="c1", name="D", probability=35)
    assert chosen.probability == 35


@pytest.mark.parametrize("name", ["", "   ", "x" * (NAME_MAX + 1)])
def test_bad_names_are_rejected_on_input_name(name: str) -> None:
    with pytest.raises(BadUserInput) as exc:
        validate_new_opportunity(customer_id="c1", name=name)
    assert exc.value.field == "input.name"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.INITIAL_CONTACT, S.NEEDS_ANALYSIS),
        (S.NEEDS_ANALYSIS, S.SOLUTION),
        (S.SOLUTION, S.QUOTE),
        (S.QUOTE, S.NEGOTIATION),
        (S.NEGOTIATION, S.SOLUTION),  # back for rework
        (S.QUOTE, S.WON),
        (S.NEGOTIATION, S.WON),
    ],
)
def test_legal_moves(current: OpportunityStage, target: OpportunityStage) -> None:
    assert check_move(current, target, None) is None


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.INITIAL_CONTACT, S.SOLUTION),  # skips a stage
        (S.INITIAL_CONTACT, S.WON),
        (S.SOLUTION, S.WON),
        (S.WON, S.NEGOTIATION),  # closed is final
        (S.LOST, S.INITIAL_CONTACT),
        (S.QUOTE, S.QUOTE),
    ],
)
def test_illegal_moves_are_bad_input_on_stage(
    current: OpportunityStage, target: OpportunityStage
) -> None:
    with pytest.raises(BadUserInput) as exc:
        check_move(current, target, None)
    assert exc.value.field == "input.stage"


def test_lost_needs_a_reason_and_only_lost_takes_one() -> None:
    with pytest.raises(BadUserInput) as exc:
        check_move(S.SOLUTION, S.LOST, "  ")
    assert exc.value.field == "input.lossReason"
    assert check_move(S.SOLUTION, S.LOST, " budget cut ") == "budget cut"
    with pytest.raises(BadUserInput) as exc:
        check_move(S.SOLUTION, S.QUOTE, "why")
    assert exc.value.field == "input.lossReason"


def test_visibility_by_role() -> None:
    assert visibility(_principal(Role.SALES_REP, user="rep")) == Visibility(owner_id="rep")
    manager = visibility(_principal(Role.SALES_MANAGER, user="m", team="north"))
    assert manager == Visibility(owner_id="m", team="north")
    assert manager.admits("someone", "north") and not manager.admits("someone", "south")
    for role in (Role.ADMIN, Role.ANALYST):
        assert visibility(_principal(role)).everything
    with pytest.raises(Forbidden):
        visibility(_principal(Role.SERVICE_AGENT))


def test_analysts_read_but_do_not_write() -> None:
    with pytest.raises(Forbidden):
        can_create(_principal(Role.ANALYST))
    with pytest.raises(Forbidden):
        can_change(_principal(Role.ANALYST))
    # A rep cannot even see another rep's customer: it is not found, not forbidden.
    with pytest.raises(NotFound):
        can_see_customer(_principal(Role.SALES_REP, user="bob"), "alice", None)
    can_see_customer(_principal(Role.SALES_MANAGER, user="m", team="north"), "alice", "north")
    can_change(_principal(Role.SALES_MANAGER, user="m", team="north"))


def test_only_admins_manage_the_catalogue() -> None:
    with pytest.raises(Forbidden):
        can_manage_catalogue(_principal(Role.SALES_MANAGER))
    can_manage_catalogue(_principal(Role.ADMIN))
