"""The scheduled scoring pass: re-score only the customers that need it, with both models —
health-v1 (`domain.health`) and potential-v2 (`domain.potential`) — from one read of the
customer's facts, written in one update.

Event handlers flag a customer dirty when its inputs change; each score stores the moment its
time-based drivers next move (``next_rescore_at``). A pass takes the customers that are dirty
or due, scores them and writes score, crossing state and events in ONE conditional update
(outbox): if a new event or another replica touched the record meanwhile, the write does not
happen and the customer stays due.

With several replicas, only the holder of the ``insights.scoring`` lease runs passes
(`crm_common.coordination.Lease`, re-checked before each customer). The conditional update is
atomic on MongoDB but a read-then-write on FerretDB, where two replicas overlapping during a
lease handover (or a consumer's concurrent dirty mark) can both "succeed". So each event's id
derives from the record's state, not from chance: the n-th churn crossing of a customer is
``insights.churn/<tenant>/<customer>/n`` and the n-th potential publication (and potential-v2
change, ``insights.potential_changed/...``) likewise; two
replicas scoring the same stored state announce the same ids, and the second announcement is a
duplicate the outbox and the consumers' processed-event ids absorb (the retention follow-up that
engagement opens is keyed by the event id too).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from crm_common.clock import utc_now
from crm_common.coordination import Lease, deterministic_event_id
from crm_common.events.contracts.insights import (
    ChurnRiskCleared,
    ChurnRiskRaised,
    PotentialChanged,
    PotentialDimensionScore,
    PotentialScored,
)
from crm_common.events.envelope import CloudEvent
from crm_common.events.outbox import new_event
from crm_insights.domain.health import CHURN_THRESHOLD, Transition, churn_transition, score
from crm_insights.domain.potential import (
    Dimension,
    DimensionScore,
    PotentialScore,
    moved_meaningfully,
    score_potential,
)
from crm_insights.domain.potential import next_change_at as potential_next_change
from crm_insights.service.ports import HealthRecord, HealthStore

log = logging.getLogger(__name__)
SOURCE = "crm/insights"
LEASE_NAME = "insights.scoring"


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
        lease: Lease | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
        self._emit = emit_events
        self._on_events = on_events
        self._clock = clock
        self._batch = batch_size
        # Awaited before each customer: lets more urgent work (the event consumer, sharing the
        # one database connection) go first, so a scoring backlog never delays the read models.
        self._yield_to = yield_to

    async def leading(self) -> bool:
        """Whether this replica may score now (it holds the lease, or there is none)."""
        return self._lease is None or await self._lease.held()

    async def release(self) -> None:
        if self._lease is not None:
            await self._lease.release()

    async def run_once(self) -> int:
        """Score what is due now; returns how many scores were written."""
        if not await self.leading():
            return 0
        now = self._clock()
        written = 0
        for record in await self._store.due_for_scoring(now, self._batch):
            if self._yield_to is not None:
                await self._yield_to()
            if not await self.leading():
                break
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
        facts = await self._store.facts_for(record, now)
        owner_id = facts.owner_id
        result = score(facts.health)
        # potential-v2 reads health-v1's churn risk as one of loyalty's signals.
        history = dataclasses.replace(facts.history, churn_risk=result.churn_risk)
        potential = score_potential(history, now)
        scores = potential.scores() if potential is not None else None
        raised = record.churn_raised
        churn_seq, potential_seq = record.churn_seq, record.potential_seq
        events: list[CloudEvent] = []
        transition = churn_transition(result.churn_risk, raised)
        if transition is Transition.RAISE:
            raised = True
            churn_seq += 1
            events.append(
                self._event(
                    record,
                    ("insights.churn", str(churn_seq)),
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
            churn_seq += 1
            events.append(
                self._event(
                    record,
                    ("insights.churn", str(churn_seq)),
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
            potential_seq += 1
            events.append(
                self._event(
                    record,
                    ("insights.potential", str(potential_seq)),
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
        change_seq = record.potential_change_seq
        announced = record.potential_announced
        if moved_meaningfully(record.potential_announced, scores):
            # A score going away (the customer deleted) is not announced; the next one will be.
            announced = scores
            if potential is not None:
                change_seq += 1
                events.append(
                    self._event(
                        record,
                        ("insights.potential_changed", str(change_seq)),
                        _potential_changed(record, potential, owner_id, facts.team, now),
                    )
                )
        next_rescore = result.next_change_at
        if potential is not None:
            upcoming = potential_next_change(history, now)
            if upcoming is not None and (next_rescore is None or upcoming < next_rescore):
                next_rescore = upcoming
        values = {
            "owner_id": owner_id,
            "team": facts.team,
            "potential_scores": scores,
            "purchase_power": scores["PURCHASE_POWER"] if scores else None,
            "growth": scores["GROWTH"] if scores else None,
            "loyalty": scores["LOYALTY"] if scores else None,
            "potential_drivers": _drivers(potential),
            "forecast": [dataclasses.asdict(f) for f in potential.forecast] if potential else [],
            "potential_model": potential.model_version if potential else None,
            "potential_announced": announced,
            "potential_change_seq": change_seq,
            "churn_risk": result.churn_risk,
            "potential": result.potential,
            "drivers": [dataclasses.asdict(d) for d in result.drivers],
            "model_version": result.model_version,
            "computed_at": now,
            "next_rescore_at": next_rescore,
            "churn_raised": raised,
            "potential_published": result.potential,
            "dirty": False,
            "churn_seq": churn_seq,
            "potential_seq": potential_seq,
        }
        saved = await self._store.save_score(record, values, events if self._emit else [])
        if saved and events and self._emit and self._on_events is not None:
            self._on_events()
        return saved

    @staticmethod
    def _event(
        record: HealthRecord,
        nth: tuple[str, str],
        payload: ChurnRiskRaised | ChurnRiskCleared | PotentialScored | PotentialChanged,
    ) -> CloudEvent:
        """The event, under the id of the record's n-th announcement of its kind."""
        kind, n = nth
        event_id = deterministic_event_id(kind, record.tenant_id, record.customer_id, n)
        return new_event(
            payload, source=SOURCE, tenant_id=record.tenant_id, key=record.customer_id
        ).with_id(event_id)


def _drivers(potential: PotentialScore | None) -> dict[str, list[dict[str, object]]] | None:
    if potential is None:
        return None
    return {
        d.value: [dataclasses.asdict(x) for x in potential.dimension(d).drivers] for d in Dimension
    }


def _announced(dimension: DimensionScore, previous: int | None) -> PotentialDimensionScore:
    ranked = sorted(dimension.drivers, key=lambda d: -d.contribution)
    return PotentialDimensionScore(
        score=dimension.score,
        previous_score=previous,
        drivers=[d.name for d in ranked if d.contribution > 0],
    )


def _potential_changed(
    record: HealthRecord,
    potential: PotentialScore,
    owner_id: str | None,
    team: str | None,
    now: datetime,
) -> PotentialChanged:
    before = record.potential_announced or {}
    return PotentialChanged(
        customer_id=record.customer_id,
        owner_id=owner_id,
        team=team,
        purchase_power=_announced(potential.purchase_power, before.get("PURCHASE_POWER")),
        growth=_announced(potential.growth, before.get("GROWTH")),
        loyalty=_announced(potential.loyalty, before.get("LOYALTY")),
        forecast_minor={f.currency: f.amount_minor for f in potential.forecast},
        model_version=potential.model_version,
        scored_at=now,
    )
