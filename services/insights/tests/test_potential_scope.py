"""Who sees which customer's potential, and the profile facts insights keeps for it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm_common.auth import Principal
from crm_common.errors import Forbidden
from crm_common.events.contracts import customer as c
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.permissions import can_see_potential, potential_list_scope
from crm_insights.service.ports import Fact
from crm_insights.service.projections import project

AT = datetime(2026, 12, 1, tzinfo=UTC)


def who(*roles: str, user: str = "u1", team: str | None = None) -> Principal:
    return Principal(user_id=user, tenant_id="t1", roles=frozenset(roles), team=team)


def test_who_sees_one_customers_potential() -> None:
    assert can_see_potential(who("analyst"), "rep", "north")
    assert can_see_potential(who("admin"), None, None)
    assert can_see_potential(who("sales_manager", team="north"), "rep", "north")
    assert not can_see_potential(who("sales_manager", team="south"), "rep", "north")
    assert can_see_potential(who("sales_manager"), "rep", "north")  # no team: all
    assert can_see_potential(who("sales_rep", user="rep"), "rep", "north")
    assert not can_see_potential(who("sales_rep", user="other"), "rep", "north")
    assert not can_see_potential(who("service_agent"), "rep", "north")


def test_the_ranking_is_narrowed_to_what_the_reader_may_see() -> None:
    assert potential_list_scope(who("analyst"), "rep", None) == ("rep", None)
    assert potential_list_scope(who("sales_rep", user="rep"), None, None) == ("rep", None)
    assert potential_list_scope(who("sales_manager", team="north"), None, None) == (None, "north")
    with pytest.raises(Forbidden) as refused:
        potential_list_scope(who("sales_rep", user="rep"), "other", None)
    assert refused.value.field == "filter.ownerId"
    with pytest.raises(Forbidden):
        potential_list_scope(who("sales_manager", team="north"), None, "south")
    with pytest.raises(Forbidden):
        potential_list_scope(who("service_agent"), None, None)


def _updated(fields: list[str], profile: c.PurchaseProfile | None) -> CloudEvent:
    payload = c.CustomerUpdated(
        customer_id="c1",
        changed_fields=fields,
        actor_id="u1",
        updated_at=AT,
        purchase_profile=profile,
    )
    return CloudEvent.new(payload, source="crm/customer", tenant_id="t1", key="c1")


def test_a_budget_change_is_kept_and_rescored_other_changes_are_not() -> None:
    profile = c.PurchaseProfile(industry="Energy", employees=800, budget_max_minor=10**8)
    event = _updated(["budget"], profile)
    projection = project(event, event.parse())
    assert projection is not None
    assert projection.dirty == ("c1",)
    (change,) = projection.changes
    assert change.fact is Fact.CUSTOMERS
    assert change.guarded is not None
    at, values = change.guarded["profile"]
    assert at == AT
    assert values["budget_max_minor"] == 10**8
    assert values["employees"] == 800
    for quiet in (_updated(["address"], profile), _updated(["budget"], None)):
        nothing = project(quiet, quiet.parse())
        assert nothing is not None
        assert nothing.changes == ()
        assert nothing.dirty == ()


def test_ranking_cursors_round_trip_and_refuse_forgeries() -> None:
    from crm_common.errors import BadUserInput
    from crm_insights.api.potential import _cursor, _offset

    assert _offset(None) == 0
    assert _offset(_cursor(25)) == 25
    for forged in ("nonsense", _cursor(-1), _cursor(10**12), "cmFuazp4"):
        with pytest.raises(BadUserInput) as refused:
            _offset(forged)
        assert refused.value.field == "after"
