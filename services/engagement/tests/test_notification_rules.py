"""Which events make which notifications, for whom; ids; preferences. Pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_common.auth import Principal
from crm_common.events.contracts.customer import CustomerCreated, CustomersImported
from crm_common.events.contracts.engagement import FollowUpDue
from crm_common.events.contracts.quoting import QuoteApproved, QuoteSubmitted
from crm_common.events.contracts.servicedesk import SurveyResponded, TicketSlaBreached
from crm_engagement.domain.interaction import CustomerRef
from crm_engagement.domain.notification import (
    Channel,
    KindPreference,
    NotificationKind,
    Preferences,
    audience_keys,
    copy_for,
    drafts_for,
    event_recipient_id,
    from_draft,
)

AT = datetime(2026, 3, 1, 9, tzinfo=UTC)
CUSTOMER = CustomerRef(id="c1", tenant_id="t", name="Acme", owner_id="rep-1", team="north")


def _quote(**extra: object) -> dict[str, object]:
    return {
        "quote_id": "q1",
        "quote_number": "Q-1",
        "version": 1,
        "opportunity_id": "o1",
        "customer_id": "c1",
        "owner_id": "rep-1",
        "at": AT,
        **extra,
    }


def test_a_due_follow_up_goes_to_its_assignee() -> None:
    due = FollowUpDue(
        followup_id="f1",
        customer_id="c1",
        assignee_id="rep-1",
        priority="HIGH",
        goal="call back",
        due_at=AT,
    )
    [draft] = drafts_for("e1", AT, due, CUSTOMER)
    assert draft.kind is NotificationKind.FOLLOWUP_DUE
    assert draft.recipient == "user:rep-1"
    assert (draft.record_type, draft.record_id, draft.customer_id) == ("followup", "f1", "c1")
    assert "Acme" in draft.body


def test_a_customer_pending_review_goes_to_the_team_managers() -> None:
    created = CustomerCreated(
        customer_id="c1",
        number="C-1",
        name="Acme",
        status="PENDING_REVIEW",
        owner_id="rep-1",
        team="north",
        created_at=AT,
    )
    [draft] = drafts_for("e1", AT, created, None)
    assert draft.recipient == "audience:sales_manager:north"
    assert event_recipient_id(draft.recipient) == "audience:sales_manager:north"
    approved = created.model_copy(update={"status": "LEAD"})
    assert drafts_for("e2", AT, approved, None) == []


def test_quotes_notify_approvers_and_owner_but_not_for_automatic_or_own_decisions() -> None:
    submitted = QuoteSubmitted(
        **_quote(actor_id="rep-1"), total_minor=100, currency="CNY", max_discount_bp=2000
    )
    [waiting] = drafts_for("e1", AT, submitted, CUSTOMER)
    assert waiting.recipient == "audience:sales_manager:north"
    auto = submitted.model_copy(update={"approved_automatically": True})
    assert drafts_for("e2", AT, auto, CUSTOMER) == []
    approved = QuoteApproved(**_quote(actor_id="mgr-1"), automatic=False)
    [note] = drafts_for("e3", AT, approved, CUSTOMER)
    assert (note.kind, note.recipient) == (NotificationKind.QUOTE_APPROVED, "user:rep-1")
    assert drafts_for("e4", AT, approved.model_copy(update={"automatic": True}), CUSTOMER) == []
    own = QuoteApproved(**_quote(actor_id="rep-1"), automatic=False)
    assert drafts_for("e5", AT, own, CUSTOMER) == []


def test_an_escalated_breach_notifies_managers_and_the_lead() -> None:
    breach = TicketSlaBreached(
        ticket_id="k1",
        customer_id="c1",
        priority="HIGH",
        kind="RESPONSE",
        due_at=AT,
        detected_at=AT,
        escalated_to="lead-1",
    )
    drafts = drafts_for("e1", AT, breach, CUSTOMER)
    assert [(d.kind, d.recipient) for d in drafts] == [
        (NotificationKind.TICKET_SLA_BREACHED, "audience:service_manager:*"),
        (NotificationKind.TICKET_ESCALATED, "user:lead-1"),
    ]


def test_only_low_survey_scores_notify_and_imports_reach_their_actor() -> None:
    survey = SurveyResponded(
        survey_id="s1",
        customer_id="c1",
        subject_type="TICKET",
        subject_id="k1",
        scores={"speed": 2, "quality": 5},
        responded_at=AT,
    )
    [low] = drafts_for("e1", AT, survey, CUSTOMER)
    assert "speed 2/5" in low.body and "quality" not in low.body
    happy = survey.model_copy(update={"scores": {"speed": 4}})
    assert drafts_for("e2", AT, happy, CUSTOMER) == []
    imported = CustomersImported(
        job_id="j1",
        actor_id="admin-1",
        total=3,
        created=2,
        updated=0,
        duplicates=1,
        failed=0,
        finished_at=AT,
    )
    [done] = drafts_for("e3", AT, imported, None)
    assert (done.recipient, done.customer_id) == ("user:admin-1", None)


def test_ids_are_derived_so_replicas_and_redeliveries_agree() -> None:
    due = FollowUpDue(
        followup_id="f1", customer_id="c1", assignee_id="rep-1", priority="LOW", goal="g", due_at=AT
    )
    [draft] = drafts_for("e1", AT, due, CUSTOMER)
    assert from_draft("t", draft).id == from_draft("t", draft).id
    assert from_draft("t", draft).id != from_draft("t2", draft).id
    audience = from_draft("t", draft)
    assert copy_for(audience, "u1", inbox=True).id == copy_for(audience, "u1", inbox=True).id
    assert copy_for(audience, "u1", inbox=True).id != copy_for(audience, "u2", inbox=True).id


def test_preferences_decide_inbox_and_email() -> None:
    prefs = Preferences(user_id="u", email="u@example.com")
    assert prefs.delivers(NotificationKind.FOLLOWUP_DUE) == (True, None)
    both = KindPreference(channels=frozenset({Channel.INBOX, Channel.EMAIL}))
    off = KindPreference(enabled=False)
    prefs = Preferences(
        user_id="u",
        email="u@example.com",
        kinds={NotificationKind.FOLLOWUP_DUE: both, NotificationKind.QUOTE_APPROVED: off},
    )
    assert prefs.delivers(NotificationKind.FOLLOWUP_DUE) == (True, "u@example.com")
    assert prefs.delivers(NotificationKind.QUOTE_APPROVED) == (False, None)


def test_audiences_of_a_principal() -> None:
    manager = Principal(user_id="m", tenant_id="t", roles=frozenset({"sales_manager"}), team="n")
    assert audience_keys(manager) == ["audience:sales_manager:*", "audience:sales_manager:n"]
    no_team = Principal(user_id="a", tenant_id="t", roles=frozenset({"admin"}))
    assert audience_keys(no_team) == ["audience:admin:*"]
