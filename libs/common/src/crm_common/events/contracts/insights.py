"""Events published by the insights service on ``crm.insights.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from crm_common.events.contracts.base import EventData

TOPIC = "crm.insights.v1"


class ChurnRiskRaised(EventData):
    """A customer's churn score crossed the warning threshold (once per crossing)."""

    event_type: ClassVar[str] = "crm.insights.churn_risk_raised"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    owner_id: str | None = None
    score: int
    threshold: int
    drivers: list[str]
    model_version: str
    raised_at: datetime


class ChurnRiskCleared(EventData):
    """The churn score fell back below the threshold."""

    event_type: ClassVar[str] = "crm.insights.churn_risk_cleared"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    score: int
    threshold: int
    model_version: str
    cleared_at: datetime


class PotentialScored(EventData):
    """A customer's potential score changed (published once per new value)."""

    event_type: ClassVar[str] = "crm.insights.potential_scored"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    owner_id: str | None = None
    score: int
    previous_score: int | None = None
    drivers: list[str]
    model_version: str
    scored_at: datetime
