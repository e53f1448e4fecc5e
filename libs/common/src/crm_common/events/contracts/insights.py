"""Events published by the insights service on ``crm.insights.v1`` (key: customer id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

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


class PotentialDimensionScore(BaseModel):
    """One dimension of model potential-v2 in an announcement: its score and top drivers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    score: int
    previous_score: int | None = None
    # The names of the drivers that contribute, largest contribution first.
    drivers: list[str]


class PotentialChanged(EventData):
    """A customer's purchase power, growth potential or loyalty (model potential-v2, 0-100
    each) moved by 5 points or more, or was scored for the first time with anything in it.
    Announced at most once per scored state (deterministic id: the n-th announcement)."""

    event_type: ClassVar[str] = "crm.insights.potential_changed"
    topic: ClassVar[str] = TOPIC

    customer_id: str
    owner_id: str | None = None
    team: str | None = None
    purchase_power: PotentialDimensionScore
    growth: PotentialDimensionScore
    loyalty: PotentialDimensionScore
    # Expected revenue of the open pipeline (amount × win probability), minor units per currency.
    forecast_minor: dict[str, int] = {}
    model_version: str
    scored_at: datetime
