"""Pure engagement rules: edit grace, cadence proposals, masking, timeline keys, permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_common.auth import Principal
from crm_common.errors import BadUserInput, Conflict, Forbidden
from crm_engagement.domain.followup import EngagementSettings, Priority, propose_next
from crm_engagement.domain.interaction import (
    CustomerRef,
    Interaction,
    InteractionKind,
    Participant,
    ParticipantKind,
    check_editable,
    mask_email,
    mask_phone,
    validate_participants,
)
from crm_engagement.domain.permissions import masks_contact_details, may_see, may_write
from crm_engagement.domain.timeline import customer_of, mask_contact_details, service_of

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _interaction(created_at: datetime) -> Interaction:
    return Interaction(
        id="i1",
        tenant_id="t",
        customer_id="c1",
        kind=InteractionKind.PHONE_CALL,
        occurred_at=created_at,
        content="call",
        owner_id="alice",
        created_at=created_at,
    )


def test_the_author_edits_within_the_grace_period_only() -> None:
    grace = timedelta(minutes=30)
    check_editable(_interaction(NOW - timedelta(minutes=29)), "alice", NOW, grace)
    with pytest.raises(Conflict):
        check_editable(_interaction(NOW - timedelta(minutes=31)), "alice", NOW, grace)
    with pytest.raises(Forbidden):
        check_editable(_interaction(NOW), "bob", NOW, grace)


@pytest.mark.parametrize(
    ("priority", "days"), [(Priority.HIGH, 7), (Priority.MEDIUM, 14), (Priority.LOW, 30)]
)
def test_cadence_follows_priority_from_the_last_interaction(priority: Priority, days: int) -> None:
    last = NOW - timedelta(days=1)
    proposal = propose_next("c1", priority, last, NOW, EngagementSettings())
    assert proposal.due_at == last + timedelta(days=days)
    assert proposal.interval == timedelta(days=days)


def test_cadence_is_overridable_and_never_proposes_the_past() -> None:
    settings = EngagementSettings(high_interval_days=2)
    assert propose_next("c", Priority.HIGH, NOW, NOW, settings).due_at == NOW + timedelta(days=2)
    stale = propose_next("c", Priority.LOW, NOW - timedelta(days=90), NOW, settings)
    assert stale.due_at == NOW


def test_contact_details_are_masked_for_analysts() -> None:
    assert mask_email("wang@silk.cn") == "w***@silk.cn"
    assert mask_phone("+86 138 0000 1234") == "*************1234"
    analyst = Principal(user_id="a", tenant_id="t", roles=frozenset({"analyst"}))
    admin = Principal(user_id="b", tenant_id="t", roles=frozenset({"admin", "analyst"}))
    assert masks_contact_details(analyst) and not masks_contact_details(admin)
    body = {"ticket": {"contact_email": "x@y.cn", "title": "help"}, "phones": ["1"]}
    assert mask_contact_details(body) == {
        "ticket": {"contact_email": "***", "title": "help"},
        "phones": ["1"],
    }


def test_participants_are_validated() -> None:
    validate_participants([Participant(ParticipantKind.CONTACT, "Wang", email="w@x.cn")])
    with pytest.raises(BadUserInput):
        validate_participants([Participant(ParticipantKind.USER, "Alice")])  # no user id
    with pytest.raises(BadUserInput):
        validate_participants([Participant(ParticipantKind.CONTACT, "W", email="nope")])


def test_reps_see_their_own_managers_their_team_readers_all() -> None:
    customer = CustomerRef(id="c", tenant_id="t", name="C", owner_id="alice", team="north")
    alice = Principal(user_id="alice", tenant_id="t", roles=frozenset({"sales_rep"}))
    bob = Principal(user_id="bob", tenant_id="t", roles=frozenset({"sales_rep"}))
    manager = Principal(
        user_id="m", tenant_id="t", roles=frozenset({"sales_manager"}), team="north"
    )
    agent = Principal(user_id="s", tenant_id="t", roles=frozenset({"service_agent"}))
    assert may_write(alice, customer) and not may_see(bob, customer)
    assert may_write(manager, customer)
    assert may_see(agent, customer) and not may_write(agent, customer)


def test_timeline_keys() -> None:
    assert service_of("crm.servicedesk.ticket_opened") == "servicedesk"
    assert customer_of("crm.customer.merged", "k", {"kept_id": "c2", "merged_id": "c1"}) == "c2"
    assert customer_of("crm.x.y", "c9", {}) == "c9"
