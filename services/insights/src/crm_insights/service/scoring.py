"""The scheduled scoring pass: re-score only the customers that need it.

Event handlers flag a customer dirty when its inputs change; each score stores the moment its
time-based drivers next move (``next_rescore_at``). A pass takes the customers that are dirty
or due, scores them and writes score, crossing state and events in ONE conditional update
(outbox): if a new event or another replica touched the record meanwhile, the write does not
happen and the customer stays due, so each crossing is announced exactly once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from crm_common.clock import utc_now
from crm_common.events.contracts.insights import ChurnRiskCleared, ChurnRiskRaised, PotentialScored
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_insights.domain.health import CHURN_THRESHOLD, Transition, churn_transition, score
from crm_insights.service.ports import HealthRecord, HealthStore

log = logging.getLogger(__name__)
SOURCE = "crm/insights"


class ScoringPass:
    def __init__(
        self,
        store: HealthStore,
        *,
        emit_events: bool = True,
        on_events: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
        batch_size: int = 200,
        yield_to: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._emit = emit_events
        self._on_events = on_events
        self._clock = clock
        self._batch = batch_size
        # Awaited before each customer: lets more urgent work (the event consumer, sharing the
        # one database connection) go first, so a scoring backlog never delays the read models.
        self._yield_to = yield_to

    async def run_once(self) -> int:
        """Score what is due now; returns how many scores were written."""
        now = self._clock()
        written = 0
        for record in await self._store.due_for_scoring(now, self._batch):
            if self._yield_to is not None:
                await self._yield_to()
            if await self.rescore(record, now):
                written += 1
        return written

    async def run_until_idle(self, max_passes: int = 10_000) -> int:
        total = 0
        for _ in range(max_passes):
            written = await self.run_once()
            total += written
            if written == 0:
                break
        return total

    async def rescore(self, record: HealthRecord, now: datetime) -> bool:
        inputs, owner_id = await self._store.inputs_for(record, now)
        result = score(inputs)
        raised = record.churn_raised
        events: list[CloudEvent] = []
        transition = churn_transition(result.churn_risk, raised)
        if transition is Transition.RAISE:
            raised = True
            events.append(
                self._event(
                    record,
                    ChurnRiskRaised(
                        customer_id=record.customer_id,
                        owner_id=owner_id,
                        score=result.churn_risk,
                        threshold=CHURN_THRESHOLD,
                        drivers=result.active_drivers("churn"),
                        model_version=result.model_version,
                        raised_at=now,
                    ),
                )
            )
        elif transition is Transition.CLEAR:
            raised = False
            events.append(
                self._event(
                    record,
                    ChurnRiskCleared(
                        customer_id=record.customer_id,
                        score=result.churn_risk,
                        threshold=CHURN_THRESHOLD,
                        model_version=result.model_version,
                        cleared_at=now,
                    ),
                )
            )
        # An unscored customer counts as potential 0: a new customer with nothing known about it
        # yet is not news.
        if result.potential != (record.potential_published or 0):
            events.append(
                self._event(
                    record,
                    PotentialScored(
                        customer_id=record.customer_id,
                        owner_id=owner_id,
                        score=result.potential,
                        previous_score=record.potential_published,
                        drivers=result.active_drivers("potential"),
                        model_version=result.model_version,
                        scored_at=now,
                    ),
                )
            )
        values = {
            "owner_id": owner_id,
            "churn_risk": result.churn_risk,
            "potential": result.potential,
            "drivers": [dataclasses.asdict(d) for d in result.drivers],
            "model_version": result.model_version,
            "computed_at": now,
            "next_rescore_at": result.next_change_at,
            "churn_raised": raised,
            "potential_published": result.potential,
            "dirty": False,
        }
        saved = await self._store.save_score(record, values, events if self._emit else [])
        if saved and events and self._emit and self._on_events is not None:
            self._on_events()
        return saved

    @staticmethod
    def _event(
        record: HealthRecord, payload: ChurnRiskRaised | ChurnRiskCleared | PotentialScored
    ) -> CloudEvent:
        return new_event(payload, source=SOURCE, tenant_id=record.tenant_id, key=record.customer_id)
