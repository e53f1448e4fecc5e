"""What the insights use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from crm_common.events.envelope import CloudEvent
from crm_insights.domain.health import HealthInputs
from crm_insights.domain.periods import Bucket
from crm_insights.domain.potential import CustomerHistory
from crm_insights.domain.reports import PerformerFigures
from crm_insights.domain.scope import ReportScope


class Fact(StrEnum):
    """The read-model collections, one document per thing the events talk about."""

    CUSTOMERS = "customers"
    OPPORTUNITIES = "opportunities"
    QUOTES = "quotes"
    INTERACTIONS = "interactions"
    FOLLOWUPS = "followups"
    ACTIVITIES = "activities"
    TICKETS = "tickets"
    SURVEYS = "surveys"
    # service_projections.py (issue 18 reports)
    REGISTRATIONS = "activity_registrations"
    STATUS_CHANGES = "status_changes"
    IMPROVEMENT_TASKS = "improvement_tasks"


@dataclass(frozen=True, slots=True)
class FactChange:
    """One idempotent, order-safe change to a fact document.

    ``values`` are facts that never change once known (set again, same value, on redelivery);
    ``guarded`` groups are state that does change, each applied only if its moment is newer
    than the one stored (``<group>_at``), so late or repeated events never roll state back;
    ``maximum``/``minimum``/``add_to_set`` are order-free by nature. A field belongs to one
    part only (a new document takes ``values`` and every guarded group in one write).
    """

    def __post_init__(self) -> None:
        plain = set(self.values or {}) | set(self.maximum or {}) | set(self.minimum or {})
        plain |= set(self.add_to_set or {})
        for _, fields in (self.guarded or {}).values():
            if plain & set(fields):
                raise ValueError(f"fields both plain and guarded: {sorted(plain & set(fields))}")

    fact: Fact
    id: str
    values: Mapping[str, Any] | None = None
    guarded: Mapping[str, tuple[datetime, Mapping[str, Any]]] | None = None
    maximum: Mapping[str, Any] | None = None
    minimum: Mapping[str, Any] | None = None
    add_to_set: Mapping[str, Any] | None = None


class FactWriter(Protocol):
    """Applies changes to the read models of one tenant."""

    tenant_id: str

    async def apply(self, change: FactChange) -> None: ...

    async def repoint_customer(self, merged_id: str, kept_id: str) -> None:
        """Every fact of ``merged_id`` now belongs to ``kept_id``."""

    async def mark_dirty(self, customer_id: str) -> None:
        """The customer's health inputs changed: the next scoring pass re-scores it."""


class FactBatchWriter(Protocol):
    """Applies the changes of many events, of any tenants, in a few round trips."""

    async def write(
        self,
        changes: Sequence[tuple[str, FactChange]],
        dirty: Sequence[tuple[str, str]],
    ) -> None:
        """Apply ``(tenant_id, change)`` in order, then flag ``(tenant_id, customer_id)``."""

    async def repoint_customer(self, tenant_id: str, merged_id: str, kept_id: str) -> None:
        """Every fact of ``merged_id`` now belongs to ``kept_id``."""

    async def merged_into(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        """Of ``customer_ids``, those merged into another customer: id → the customer it was
        merged into (one step; the caller follows chains)."""
        ...


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """The stored health of one customer, with what the scorer needs to write it back."""

    customer_id: str
    tenant_id: str
    owner_id: str | None
    churn_risk: int | None
    potential: int | None
    drivers: tuple[Any, ...]
    computed_at: datetime | None
    model_version: str | None
    churn_raised: bool
    potential_published: int | None
    dirty_seq: int
    # How many churn crossings (raised or cleared) and potential publications the record has
    # announced: the next one's event id derives from these, so two replicas scoring the same
    # state announce the same event (see `ScoringPass`).
    churn_seq: int = 0
    potential_seq: int = 0
    # Model potential-v2 (`domain.potential`): the three scores ({dimension: score}), each
    # dimension's drivers ({dimension: [driver dicts]}), the forecast ([{currency,
    # amount_minor}]), the model version; None until scored or when not scored (deleted).
    team: str | None = None
    potential_scores: Mapping[str, int] | None = None
    potential_drivers: Mapping[str, Any] | None = None
    forecast: tuple[Any, ...] = ()
    potential_model: str | None = None
    # The scores last announced (`PotentialChanged`) and how many announcements were made.
    potential_announced: Mapping[str, int] | None = None
    potential_change_seq: int = 0


@dataclass(frozen=True, slots=True)
class ScoringFacts:
    """What the scoring pass reads for one customer: both models' inputs and its owner."""

    health: HealthInputs
    history: CustomerHistory
    owner_id: str | None
    team: str | None = None


class HealthStore(Protocol):
    """Scores of every tenant (the scheduled pass is not bound to one)."""

    async def due_for_scoring(self, now: datetime, limit: int) -> list[HealthRecord]: ...

    async def facts_for(self, record: HealthRecord, now: datetime) -> ScoringFacts:
        """The models' inputs for the customer (one read of its facts), and its owner."""

    async def save_score(
        self,
        record: HealthRecord,
        values: Mapping[str, Any],
        events: Sequence[CloudEvent],
    ) -> bool:
        """Write the score (and its events, same write) if nobody changed the record since it
        was read; False when the record moved on (it stays due and is scored again)."""

    async def mark_all_dirty(self) -> int: ...


class HealthReader(Protocol):
    tenant_id: str

    async def health_of(self, customer_ids: Sequence[str]) -> dict[str, HealthRecord]: ...


class ReportQueries(Protocol):
    """Grouped counts and sums over the read models, within a scope (one tenant)."""

    async def counts_by_status(self) -> dict[str, int]: ...

    async def counts_by_value_tier(self) -> dict[str, int]: ...

    async def growth_counts(
        self, scope: ReportScope, bucket: Bucket
    ) -> dict[tuple[str, str, str, str], int]: ...

    async def funnel_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[
        dict[int, int],
        dict[tuple[int, str], int],
        dict[str, int],
        list[timedelta],
        dict[tuple[str, str], int],
    ]: ...

    async def quote_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[dict[str, int], dict[str, int], list[timedelta], dict[tuple[str, str], int]]: ...

    async def satisfaction_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[
        dict[tuple[str, str], int], dict[tuple[str, str], int], dict[tuple[str, str], int], int
    ]: ...

    async def sla_figures(
        self, scope: ReportScope, bucket: Bucket
    ) -> tuple[int, int, int, dict[tuple[str, bool], int], dict[tuple[str, bool], int]]: ...

    async def performer_figures(self, scope: ReportScope, board: str) -> PerformerFigures: ...


class InsightsServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def reports(self, principal: Any) -> Any: ...

    def health(self, principal: Any) -> Any: ...

    def potential(self, principal: Any) -> Any: ...

    def service_reports(self, principal: Any) -> Any: ...

    def observation(self, principal: Any) -> Any: ...

    async def zone_of(self, tenant_id: str) -> ZoneInfo:
        """The tenant's time zone (report dates and periods are local to it)."""
        ...
