"""Improvement tasks (service desk) notify their owner when opened and when overdue (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_common.events.contracts.servicedesk import ImprovementTaskOpened, ImprovementTaskOverdue
from crm_engagement.domain.interaction import CustomerRef
from crm_engagement.domain.notification import NOTIFYING_EVENTS, NotificationKind, drafts_for

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_the_owner_hears_of_a_new_and_an_overdue_task() -> None:
    opened = ImprovementTaskOpened(
        task_id="t1",
        customer_id="c1",
        team="support",
        owner_id="lead-1",
        title="Low satisfaction on a ticket: service_quality 2/5",
        source="SURVEY",
        source_id="s1",
        due_at=AT,
        opened_by="system",
        opened_at=AT,
    )
    customer = CustomerRef(id="c1", tenant_id="acme", name="Acme", owner_id="rep-1")
    [draft] = drafts_for("e1", AT, opened, customer)
    assert draft.kind is NotificationKind.IMPROVEMENT_TASK_ASSIGNED
    assert draft.recipient == "user:lead-1"
    assert (draft.record_type, draft.record_id, draft.customer_id) == (
        "improvement_task",
        "t1",
        "c1",
    )
    assert "Acme" in draft.title and "service_quality" in draft.body
    assert drafts_for("e2", AT, opened.model_copy(update={"owner_id": None}), customer) == []

    overdue = ImprovementTaskOverdue(
        task_id="t1", customer_id=None, owner_id="lead-1", due_at=AT, detected_at=AT
    )
    [late] = drafts_for("e3", AT, overdue, None)
    assert late.kind is NotificationKind.IMPROVEMENT_TASK_OVERDUE
    assert late.recipient == "user:lead-1" and late.customer_id is None
    assert ImprovementTaskOpened in NOTIFYING_EVENTS and ImprovementTaskOverdue in NOTIFYING_EVENTS
