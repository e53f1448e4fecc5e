"""The customer's follow-up cadence (observation period, 观察期), on ``crm.customer.v1``.

A module of its own beside ``customer.py`` (same producer, same topic): the cadence is kept in
a collection of its own in the customer service (`crm_customer.domain.cadence`).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC


class CadenceHistoryEntry(BaseModel):
    """One change of a merged customer's cadence history, carried over to the kept one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    cadence: str
    reason: str
    source: str
    at: datetime
    actor_id: str
    opportunity_id: str | None = None
    note: str | None = None
    merged_from: str | None = None


class CustomerCadenceChanged(EventData):
    """The customer's follow-up cadence changed: INTENSIVE, NORMAL or OBSERVATION (the
    observation period, 观察期), why (``reason``: HIGH_FIT_PROACTIVE, LOW_FIT, ASSESSED,
    NO_PROGRESS, NEW_INTERACTION, MANUAL) and from what (``source``: ASSESSMENT, STALL,
    INTERACTION, MANUAL, MERGE). Engagement adapts its follow-up intervals to it; insights
    counts the customers in observation per team and reason.

    ``source`` MERGE: ``merged_from`` was merged into ``customer_id``, which took its cadence
    (``took_merged_state``: with its start ``since`` and reason) or kept its own (then
    ``cadence`` equals ``previous_cadence``); ``state_after`` is the kept customer's whole
    cadence state after the merge (its ``at``: since when); ``carried_history`` is the merged
    customer's history appended to the kept one's. With the manual decisions (source MANUAL:
    ``note``, ``actor_id``, ``changed_at``) these are what the customer service's rebuild by
    replay applies from the topic (the service's own decisions)."""

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
    # A merge (source MERGE) only; absent otherwise and in events written before them.
    merged_from: str | None = None
    since: datetime | None = None
    took_merged_state: bool | None = None
    # The kept customer's cadence right after the merge, whole (``at``: since when).
    state_after: CadenceHistoryEntry | None = None
    carried_history: list[CadenceHistoryEntry] = []
