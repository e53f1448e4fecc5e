"""Notifications: what lands in a user's inbox, built from events other parts already publish.

A notification goes to ONE user (``user:<id>``) or to an AUDIENCE (``audience:<role>:<team>``,
team ``*`` for every team): there is no user directory, so "the sales managers of team north"
is stored once as an audience notification, and each user who belongs to it gets a copy of
their own (with their own read state) the first time they look at their inbox or when it
reaches them live (`audience copies`, see ``service/notifications.py``). Ids are derived from
the source event and the recipient, so a redelivered event, or two replicas handling it,
store one notification.

Pure: no I/O. The mapping from events to drafts reads only the event and the customer copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from crm_common.auth import Principal, Role
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerCreated, CustomersImported
from crm_common.events.contracts.engagement import FollowUpDue, FollowUpOverdue
from crm_common.events.contracts.insights import ChurnRiskRaised
from crm_common.events.contracts.quoting import (
    QuoteAccepted,
    QuoteApproved,
    QuoteDeclined,
    QuoteNegotiationRequested,
    QuoteRejected,
    QuoteSubmitted,
)
from crm_common.events.contracts.servicedesk import (
    ImprovementTaskOpened,
    ImprovementTaskOverdue,
    SurveyResponded,
    TicketAssigned,
    TicketSlaBreached,
)
from crm_engagement.domain.interaction import CustomerRef

# A survey answer with any score at or below this is a low score (scores are 1-5).
LOW_SCORE = 2
EVERY_TEAM = "*"


class NotificationKind(StrEnum):
    FOLLOWUP_DUE = "FOLLOWUP_DUE"
    FOLLOWUP_OVERDUE = "FOLLOWUP_OVERDUE"
    CUSTOMER_AWAITING_REVIEW = "CUSTOMER_AWAITING_REVIEW"
    QUOTE_AWAITING_APPROVAL = "QUOTE_AWAITING_APPROVAL"
    QUOTE_APPROVED = "QUOTE_APPROVED"
    QUOTE_REJECTED = "QUOTE_REJECTED"
    QUOTE_CUSTOMER_RESPONDED = "QUOTE_CUSTOMER_RESPONDED"
    TICKET_ASSIGNED = "TICKET_ASSIGNED"
    TICKET_ESCALATED = "TICKET_ESCALATED"
    TICKET_SLA_BREACHED = "TICKET_SLA_BREACHED"
    CHURN_RISK_RAISED = "CHURN_RISK_RAISED"
    SURVEY_LOW_SCORE = "SURVEY_LOW_SCORE"
    IMPORT_FINISHED = "IMPORT_FINISHED"
    IMPROVEMENT_TASK_ASSIGNED = "IMPROVEMENT_TASK_ASSIGNED"
    IMPROVEMENT_TASK_OVERDUE = "IMPROVEMENT_TASK_OVERDUE"


class Channel(StrEnum):
    INBOX = "INBOX"
    EMAIL = "EMAIL"


class EmailMode(StrEnum):
    IMMEDIATE = "IMMEDIATE"
    DIGEST = "DIGEST"


# --- recipients ----------------------------------------------------------------------------


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


def audience_key(role: str, team: str | None) -> str:
    return f"audience:{role}:{team or EVERY_TEAM}"


def is_audience(recipient: str) -> bool:
    return recipient.startswith("audience:")


def audience_keys(principal: Principal) -> list[str]:
    """The audiences a principal belongs to: each role, in their team and in every team."""
    keys = []
    for role in sorted(principal.roles):
        keys.append(audience_key(role, EVERY_TEAM))
        if principal.team:
            keys.append(audience_key(role, principal.team))
    return keys


def event_recipient_id(recipient: str) -> str:
    """The ``recipient_id`` of the event: the user id, or the audience key as it is."""
    return recipient.removeprefix("user:") if not is_audience(recipient) else recipient


def _derived_id(*parts: str) -> str:
    """The same id for the same parts (in every replica, on every redelivery)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "crm:" + "\x1f".join(parts)))


# --- notifications -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification to create, before the recipient's preferences are applied."""

    kind: NotificationKind
    recipient: str  # user_key(...) or audience_key(...)
    title: str
    body: str
    source_event_id: str
    created_at: datetime
    record_type: str | None = None
    record_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    tenant_id: str
    recipient: str
    kind: NotificationKind
    title: str
    body: str
    created_at: datetime
    source_event_id: str
    record_type: str | None = None
    record_id: str | None = None
    customer_id: str | None = None
    read_at: datetime | None = None
    # False when the recipient turned the inbox channel off for this kind (e-mail only).
    inbox: bool = True
    # For a user's copy of an audience notification: the audience notification's id.
    audience_id: str | None = None
    # When it was stored (set by the store; audience copies are made by this time).
    stored_at: datetime | None = None

    @property
    def read(self) -> bool:
        return self.read_at is not None


def notification_id(tenant_id: str, source_event_id: str, recipient: str, kind: str) -> str:
    return _derived_id("engagement.notification", tenant_id, source_event_id, recipient, kind)


def from_draft(tenant_id: str, draft: Draft, *, inbox: bool = True) -> Notification:
    return Notification(
        id=notification_id(tenant_id, draft.source_event_id, draft.recipient, draft.kind.value),
        tenant_id=tenant_id,
        recipient=draft.recipient,
        kind=draft.kind,
        title=draft.title,
        body=draft.body,
        created_at=draft.created_at,
        source_event_id=draft.source_event_id,
        record_type=draft.record_type,
        record_id=draft.record_id,
        customer_id=draft.customer_id,
        inbox=inbox,
    )


def copy_for(audience: Notification, user_id: str, *, inbox: bool) -> Notification:
    """One user's own copy of an audience notification (its own id and read state)."""
    return replace(
        audience,
        id=_derived_id("engagement.notification.copy", audience.id, user_id),
        recipient=user_key(user_id),
        read_at=None,
        inbox=inbox,
        audience_id=audience.id,
    )


# --- preferences ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindPreference:
    enabled: bool = True
    channels: frozenset[Channel] = frozenset({Channel.INBOX})
    email_mode: EmailMode = EmailMode.IMMEDIATE


@dataclass(frozen=True, slots=True)
class Preferences:
    user_id: str
    email: str | None = None
    kinds: Mapping[NotificationKind, KindPreference] = field(default_factory=dict)
    # Audience notifications created up to this time have been copied to the user.
    audience_synced_at: datetime | None = None
    # The audiences the user belonged to at their last request (their token's roles and
    # team): an audience notification is e-mailed at once to the members known this way.
    audiences: frozenset[str] = frozenset()

    def for_kind(self, kind: NotificationKind) -> KindPreference:
        return self.kinds.get(kind, KindPreference())

    def delivers(self, kind: NotificationKind) -> tuple[bool, str | None]:
        """(into the inbox?, e-mail address or None) for a notification of ``kind``."""
        pref = self.for_kind(kind)
        if not pref.enabled:
            return False, None
        email = self.email if Channel.EMAIL in pref.channels else None
        return Channel.INBOX in pref.channels, email


# --- events to drafts ----------------------------------------------------------------------

_CUSTOMER_RESPONSES: Mapping[type[EventData], str] = {
    QuoteAccepted: "accepted",
    QuoteDeclined: "declined",
    QuoteNegotiationRequested: "asked to negotiate",
}


def _name(customer: CustomerRef | None, customer_id: str) -> str:
    return customer.name if customer and customer.name else f"customer {customer_id}"


def _owner(customer: CustomerRef | None) -> str | None:
    return customer.owner_id if customer and customer.owner_id else None


def drafts_for(
    event_id: str, at: datetime, payload: EventData, customer: CustomerRef | None
) -> Sequence[Draft]:
    """The notifications an event makes (none for most events). ``customer``: the customer
    copy of the event's customer, when the event names one and the copy holds it."""

    def draft(
        kind: NotificationKind,
        recipient: str,
        title: str,
        body: str,
        record_type: str | None,
        record_id: str | None,
        customer_id: str | None,
    ) -> Draft:
        return Draft(
            kind=kind,
            recipient=recipient,
            title=title[:200],
            body=body[:1000],
            source_event_id=event_id,
            created_at=at,
            record_type=record_type,
            record_id=record_id,
            customer_id=customer_id,
        )

    match payload:
        case FollowUpDue() | FollowUpOverdue():
            overdue = isinstance(payload, FollowUpOverdue)
            name = _name(customer, payload.customer_id)
            kind = NotificationKind.FOLLOWUP_OVERDUE if overdue else NotificationKind.FOLLOWUP_DUE
            title = f"Follow-up {'overdue' if overdue else 'due'}: {payload.goal}"
            body = (
                f"{name}: {payload.goal} ({payload.priority.lower()} priority), due "
                f"{payload.due_at.isoformat()}"
            )
            return [
                draft(
                    kind,
                    user_key(payload.assignee_id),
                    title,
                    body,
                    "followup",
                    payload.followup_id,
                    payload.customer_id,
                ),
                # Participants are reminded too. Their copy names no customer: they joined the
                # task, not the customer's records, so the inbox's customer filter must not
                # hide it from a colleague who does not otherwise see the customer.
                *(
                    draft(
                        kind,
                        user_key(p),
                        title,
                        f"{body} (you take part)",
                        "followup",
                        payload.followup_id,
                        None,
                    )
                    for p in dict.fromkeys(payload.participant_ids)
                    if p != payload.assignee_id
                ),
            ]
        case CustomerCreated() if payload.status == "PENDING_REVIEW":
            return [
                draft(
                    NotificationKind.CUSTOMER_AWAITING_REVIEW,
                    audience_key(Role.SALES_MANAGER, payload.team),
                    f"Customer awaiting review: {payload.name}",
                    f"{payload.name} ({payload.number}) was created by {payload.owner_id} and "
                    "waits for a manager's review",
                    "customer",
                    payload.customer_id,
                    payload.customer_id,
                )
            ]
        case QuoteSubmitted() if not payload.approved_automatically:
            team = customer.team if customer else None
            return [
                draft(
                    NotificationKind.QUOTE_AWAITING_APPROVAL,
                    audience_key(Role.SALES_MANAGER, team),
                    f"Quote {payload.quote_number} awaits approval",
                    f"{_name(customer, payload.customer_id)}: quote {payload.quote_number} "
                    f"v{payload.version} (max discount {payload.max_discount_bp / 100:g}%) "
                    "was submitted for approval",
                    "quote",
                    payload.quote_id,
                    payload.customer_id,
                )
            ]
        case QuoteApproved() | QuoteRejected() if payload.owner_id != payload.actor_id:
            if isinstance(payload, QuoteApproved) and payload.automatic:
                return []
            approved = isinstance(payload, QuoteApproved)
            verb = "approved" if approved else "rejected"
            comment = f": {payload.comment}" if payload.comment else ""
            return [
                draft(
                    NotificationKind.QUOTE_APPROVED
                    if approved
                    else NotificationKind.QUOTE_REJECTED,
                    user_key(payload.owner_id),
                    f"Quote {payload.quote_number} {verb}",
                    f"{_name(customer, payload.customer_id)}: quote {payload.quote_number} "
                    f"v{payload.version} was {verb} by {payload.actor_id}{comment}",
                    "quote",
                    payload.quote_id,
                    payload.customer_id,
                )
            ]
        case QuoteAccepted() | QuoteDeclined() | QuoteNegotiationRequested():
            verb = _CUSTOMER_RESPONSES[type(payload)]
            return [
                draft(
                    NotificationKind.QUOTE_CUSTOMER_RESPONDED,
                    user_key(payload.owner_id),
                    f"{_name(customer, payload.customer_id)} {verb} quote {payload.quote_number}",
                    f"The customer {verb} quote {payload.quote_number} v{payload.version}",
                    "quote",
                    payload.quote_id,
                    payload.customer_id,
                )
            ]
        case TicketAssigned() if payload.assignee_id != payload.actor_id:
            return [
                draft(
                    NotificationKind.TICKET_ASSIGNED,
                    user_key(payload.assignee_id),
                    f"Ticket assigned to you ({payload.department})",
                    f"{_name(customer, payload.customer_id)}: ticket {payload.ticket_id} was "
                    f"assigned to you by {payload.actor_id}",
                    "ticket",
                    payload.ticket_id,
                    payload.customer_id,
                )
            ]
        case TicketSlaBreached():
            name = _name(customer, payload.customer_id)
            what = f"{payload.kind.lower()} due {payload.due_at.isoformat()}"
            drafts = [
                draft(
                    NotificationKind.TICKET_SLA_BREACHED,
                    audience_key(Role.SERVICE_MANAGER, EVERY_TEAM),
                    f"SLA breached on a {payload.priority.lower()} priority ticket",
                    f"{name}: ticket {payload.ticket_id} missed its {what}",
                    "ticket",
                    payload.ticket_id,
                    payload.customer_id,
                )
            ]
            if payload.escalated_to:
                drafts.append(
                    draft(
                        NotificationKind.TICKET_ESCALATED,
                        user_key(payload.escalated_to),
                        "Ticket escalated to you",
                        f"{name}: ticket {payload.ticket_id} missed its {what} and was "
                        "escalated to you",
                        "ticket",
                        payload.ticket_id,
                        payload.customer_id,
                    )
                )
            return drafts
        case ChurnRiskRaised():
            owner = payload.owner_id or _owner(customer)
            if owner is None:
                return []
            drivers = ", ".join(payload.drivers) or "no single driver"
            return [
                draft(
                    NotificationKind.CHURN_RISK_RAISED,
                    user_key(owner),
                    f"Churn risk: {_name(customer, payload.customer_id)}",
                    f"Churn score {payload.score} crossed {payload.threshold} ({drivers})",
                    "customer",
                    payload.customer_id,
                    payload.customer_id,
                )
            ]
        case SurveyResponded():
            low = {k: v for k, v in payload.scores.items() if v <= LOW_SCORE}
            if not low:
                return []
            scores = ", ".join(f"{k} {v}/5" for k, v in sorted(low.items()))
            return [
                draft(
                    NotificationKind.SURVEY_LOW_SCORE,
                    audience_key(Role.SERVICE_MANAGER, EVERY_TEAM),
                    f"Low survey score from {_name(customer, payload.customer_id)}",
                    f"Survey on {payload.subject_type.lower()} {payload.subject_id}: {scores}",
                    "survey",
                    payload.survey_id,
                    payload.customer_id,
                )
            ]
        case CustomersImported():
            return [
                draft(
                    NotificationKind.IMPORT_FINISHED,
                    user_key(payload.actor_id),
                    "Customer import finished",
                    f"{payload.total} rows: {payload.created} created, {payload.updated} "
                    f"updated, {payload.duplicates} duplicates, {payload.failed} failed",
                    "import",
                    payload.job_id,
                    None,
                )
            ]
        case ImprovementTaskOpened() if payload.owner_id:
            about = f" ({_name(customer, payload.customer_id)})" if payload.customer_id else ""
            return [
                draft(
                    NotificationKind.IMPROVEMENT_TASK_ASSIGNED,
                    user_key(payload.owner_id),
                    f"Improvement task for you{about}"[:200],
                    f"{payload.title} — due {payload.due_at.isoformat()} "
                    f"(from {payload.source.lower()})",
                    "improvement_task",
                    payload.task_id,
                    payload.customer_id,
                )
            ]
        case ImprovementTaskOverdue() if payload.owner_id:
            return [
                draft(
                    NotificationKind.IMPROVEMENT_TASK_OVERDUE,
                    user_key(payload.owner_id),
                    "Improvement task overdue",
                    f"Task {payload.task_id} was due {payload.due_at.isoformat()}",
                    "improvement_task",
                    payload.task_id,
                    payload.customer_id,
                )
            ]
    return []


def customer_id_of(payload: EventData) -> str | None:
    value = getattr(payload, "customer_id", None)
    return value if isinstance(value, str) and value else None


NOTIFYING_EVENTS: tuple[type[EventData], ...] = (
    FollowUpDue,
    FollowUpOverdue,
    CustomerCreated,
    QuoteSubmitted,
    QuoteApproved,
    QuoteRejected,
    QuoteAccepted,
    QuoteDeclined,
    QuoteNegotiationRequested,
    TicketAssigned,
    TicketSlaBreached,
    ChurnRiskRaised,
    SurveyResponded,
    CustomersImported,
    ImprovementTaskOpened,
    ImprovementTaskOverdue,
)
