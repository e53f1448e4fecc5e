"""Events published by the quoting service on ``crm.quoting.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from crm_common.events.contracts.base import EventData

TOPIC = "crm.quoting.v1"


class QuoteAccepted(EventData):
    """The customer accepted a quote: the opportunity is won, the customer becomes a deal, and
    the service desk opens a service order (once per quote)."""

    event_type: ClassVar[str] = "crm.quoting.quote_accepted"
    topic: ClassVar[str] = TOPIC

    quote_id: str
    quote_number: str
    version: int
    opportunity_id: str
    customer_id: str
    owner_id: str
    total_minor: int
    currency: str
    accepted_at: datetime


class OpportunityCreated(EventData):
    """A sales opportunity was opened with a customer."""

    event_type: ClassVar[str] = "crm.quoting.opportunity_created"
    topic: ClassVar[str] = TOPIC

    opportunity_id: str
    customer_id: str
    name: str
    stage: str
    owner_id: str
    team: str | None = None
    amount_minor: int
    currency: str
    probability: int
    expected_close_date: date | None = None
    created_at: datetime


class OpportunityStageChanged(EventData):
    """The opportunity moved along the pipeline (also sent, before the won/lost event, on
    closing), with the probability it has now."""

    event_type: ClassVar[str] = "crm.quoting.opportunity_stage_changed"
    topic: ClassVar[str] = TOPIC

    opportunity_id: str
    customer_id: str
    owner_id: str
    from_stage: str
    to_stage: str
    probability: int
    amount_minor: int
    currency: str
    actor_id: str
    changed_at: datetime


class OpportunityWon(EventData):
    """The opportunity was won (by an accepted quote when ``quote_id`` is set)."""

    event_type: ClassVar[str] = "crm.quoting.opportunity_won"
    topic: ClassVar[str] = TOPIC

    opportunity_id: str
    customer_id: str
    owner_id: str
    amount_minor: int
    currency: str
    quote_id: str | None = None
    actor_id: str
    won_at: datetime


class OpportunityLost(EventData):
    """The opportunity was lost, and why."""

    event_type: ClassVar[str] = "crm.quoting.opportunity_lost"
    topic: ClassVar[str] = TOPIC

    opportunity_id: str
    customer_id: str
    owner_id: str
    loss_reason: str
    amount_minor: int
    currency: str
    actor_id: str
    lost_at: datetime


class _QuoteEvent(EventData):
    """Fields every quote event carries (the quote version it is about)."""

    quote_id: str
    quote_number: str
    version: int
    opportunity_id: str
    customer_id: str
    owner_id: str
    actor_id: str
    at: datetime


class QuoteCreated(_QuoteEvent):
    """A quote version was drafted (``version`` > 1: a revision of an earlier one)."""

    event_type: ClassVar[str] = "crm.quoting.quote_created"
    topic: ClassVar[str] = TOPIC

    total_minor: int
    currency: str
    max_discount_bp: int
    valid_until: date
    previous_version_id: str | None = None


class QuoteSubmitted(_QuoteEvent):
    """A draft was submitted for approval."""

    event_type: ClassVar[str] = "crm.quoting.quote_submitted"
    topic: ClassVar[str] = TOPIC

    total_minor: int
    currency: str
    max_discount_bp: int
    # True when its discount was under the threshold and a `quote_approved` (automatic) follows
    # at once: nobody has to approve it. Absent in events before this field existed.
    approved_automatically: bool | None = None


class QuoteApproved(_QuoteEvent):
    """Approved by a sales manager, or automatically (``automatic``: discount under threshold)."""

    event_type: ClassVar[str] = "crm.quoting.quote_approved"
    topic: ClassVar[str] = TOPIC

    automatic: bool
    comment: str | None = None


class QuoteRejected(_QuoteEvent):
    """A sales manager rejected the quote, with a comment."""

    event_type: ClassVar[str] = "crm.quoting.quote_rejected"
    topic: ClassVar[str] = TOPIC

    comment: str


class QuoteSent(_QuoteEvent):
    """The approved quote went to the customer."""

    event_type: ClassVar[str] = "crm.quoting.quote_sent"
    topic: ClassVar[str] = TOPIC

    total_minor: int
    currency: str
    valid_until: date


class QuoteDeclined(_QuoteEvent):
    """The customer declined the quote."""

    event_type: ClassVar[str] = "crm.quoting.quote_declined"
    topic: ClassVar[str] = TOPIC

    comment: str | None = None


class QuoteNegotiationRequested(_QuoteEvent):
    """The customer wants to negotiate; a revised version usually follows."""

    event_type: ClassVar[str] = "crm.quoting.quote_negotiation_requested"
    topic: ClassVar[str] = TOPIC

    comment: str | None = None


class QuoteExpired(_QuoteEvent):
    """A sent quote passed its validity date without an answer."""

    event_type: ClassVar[str] = "crm.quoting.quote_expired"
    topic: ClassVar[str] = TOPIC

    valid_until: date


class OpportunityAssessed(EventData):
    """A sales rep assessed an open opportunity: 需求匹配度 ``fit`` (HIGH/MEDIUM/LOW),
    合作意向度 ``engagement`` (PROACTIVE/RESPONSIVE/SILENT), 决策进展 ``decision_progress``
    (null when this assessment noted none), and the follow-up ``cadence`` the documented
    strategy recommends for the customer (INTENSIVE/NORMAL/OBSERVATION, with ``reason``).
    The customer service applies the cadence to the customer."""

    event_type: ClassVar[str] = "crm.quoting.opportunity_assessed"
    topic: ClassVar[str] = TOPIC

    opportunity_id: str
    customer_id: str
    owner_id: str
    team: str | None = None
    fit: str
    engagement: str
    decision_progress: str | None = None
    cadence: str
    reason: str
    actor_id: str
    assessed_at: datetime


class OpportunityStalled(EventData):
    """No decision progress was noted on an open opportunity for the tenant's
    ``observation_after_days`` since ``last_progress_at``: its customer goes into the
    observation period (观察期). Announced once per due time (deterministic id)."""

    event_type: ClassVar[str] = "crm.quoting.opportunity_stalled"
    topic: ClassVar[str] = TOPIC

    opportunity_id: str
    customer_id: str
    owner_id: str
    team: str | None = None
    last_progress_at: datetime
    observation_after_days: int
    stalled_at: datetime
