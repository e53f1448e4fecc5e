"""The customer's follow-up cadence (observation period, 观察期), on ``crm.customer.v1``.

A module of its own beside ``customer.py`` (same producer, same topic): the cadence is kept in
a collection of its own in the customer service (`crm_customer.domain.cadence`).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC


class CustomerCadenceChanged(EventData):
    """The customer's follow-up cadence changed: INTENSIVE, NORMAL or OBSERVATION (the
    observation period, 观察期), why (``reason``: HIGH_FIT_PROACTIVE, LOW_FIT, ASSESSED,
    NO_PROGRESS, NEW_INTERACTION, MANUAL) and from what (``source``: ASSESSMENT, STALL,
    INTERACTION, MANUAL). Engagement adapts its follow-up intervals to it; insights counts the
    customers in observation per team and reason."""

    event_type: ClassVar[str] = "crm.customer.cadence_changed"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    owner_id: str
    team: str | None = None
    cadence: str
    previous_cadence: str
    reason: str
    source: str
    opportunity_id: str | None = None
    note: str | None = None
    actor_id: str
    changed_at: datetime
