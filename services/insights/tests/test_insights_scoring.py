"""The scoring pass and the health batch, over in-memory stand-ins of their ports."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from strawberry.dataloader import DataLoader

from crm_common.auth import Principal, Role
from crm_common.events.contracts.insights import PotentialChanged
from crm_common.events.envelope import CloudEvent
from crm_insights.domain.health import HealthInputs, OpenOpportunity, SurveyAnswer
from crm_insights.domain.potential import CustomerHistory, Deal
from crm_insights.service.health import HealthService
from crm_insights.service.ports import HealthRecord, ScoringFacts
from crm_insights.service.scoring import ScoringPass

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _record(customer_id: str = "c1", **overrides: Any) -> HealthRecord:
    fields: dict[str, Any] = {
        "customer_id": customer_id,
        "tenant_id": "t1",
        "owner_id": "rep",
        "churn_risk": None,
        "potential": None,
        "drivers": (),
        "computed_at": None,
        "model_version": None,
        "churn_raised": False,
        "potential_published": None,
        "dirty_seq": 1,
    }
    fields.update(overrides)
    return HealthRecord(**fields)


class FakeStore:
    """One record; `save_score` behaves like the conditional update (seq and state must match)."""

    def __init__(self, record: HealthRecord, inputs: HealthInputs) -> None:
        self.record = record
        self.inputs = inputs
        self.history = CustomerHistory()
        self.published: list[CloudEvent] = []

    async def due_for_scoring(self, now: datetime, limit: int) -> list[HealthRecord]:
        return [self.record]

    async def facts_for(self, record: HealthRecord, now: datetime) -> ScoringFacts:
        return ScoringFacts(dataclasses.replace(self.inputs, now=now), self.history, "rep", "north")

    async def save_score(
        self, record: HealthRecord, values: Mapping[str, Any], events: Sequence[CloudEvent]
    ) -> bool:
        current = self.record
        if (current.dirty_seq, current.churn_raised) != (record.dirty_seq, record.churn_raised):
            return False
        self.record = dataclasses.replace(
            current,
            churn_risk=values["churn_risk"],
            churn_raised=values["churn_raised"],
            potential_published=values["potential_published"],
            computed_at=values["computed_at"],
            potential_scores=values["potential_scores"],
            potential_announced=values["potential_announced"],
            potential_change_seq=values["potential_change_seq"],
        )
        self.published.extend(events)
        return True

    async def mark_all_dirty(self) -> int:
        return 1


OVERDUE = (NOW - timedelta(days=1),) * 2
RISKY = HealthInputs(now=NOW, open_followups_due=OVERDUE, open_urgent_tickets=2)  # 20 + 20


def _types(store: FakeStore) -> list[str]:
    return [e.type.rsplit(".", 1)[1] for e in store.published if "churn" in e.type]


async def test_a_crossing_is_published_once_and_cleared_once() -> None:
    store = FakeStore(_record(), RISKY)
    scoring = ScoringPass(store, clock=lambda: NOW)
    await scoring.run_once()
    assert store.record.churn_risk == 40 and _types(store) == []
    # Low satisfaction (average 1.0: 15 points) takes it to 55: one warning, however often
    # the customer is scored while above the threshold.
    low = (SurveyAnswer(NOW - timedelta(days=1), 2, 2),)
    store.inputs = dataclasses.replace(RISKY, survey_answers=low)
    await scoring.run_once()
    await scoring.run_once()
    assert (store.record.churn_risk, store.record.churn_raised) == (55, True)
    assert _types(store) == ["churn_risk_raised"]
    # The tickets are resolved: 20 + 15 = 35, below: cleared once.
    store.inputs = dataclasses.replace(store.inputs, open_urgent_tickets=0)
    await scoring.run_once()
    await scoring.run_once()
    assert _types(store) == ["churn_risk_raised", "churn_risk_cleared"]


async def test_a_stale_record_writes_nothing_and_publishes_nothing() -> None:
    store = FakeStore(_record(dirty_seq=2), RISKY)
    scoring = ScoringPass(store, clock=lambda: NOW)
    # A replica that read the record before a new event arrived (seq 1) loses the write.
    assert await scoring.rescore(_record(dirty_seq=1), NOW) is False
    assert store.published == [] and store.record.computed_at is None


async def test_potential_is_published_when_it_takes_a_new_value() -> None:
    quiet = FakeStore(_record(), HealthInputs(now=NOW))
    await ScoringPass(quiet, clock=lambda: NOW).run_once()
    assert quiet.published == []  # a customer with nothing known yet: potential 0, no news
    busy = FakeStore(
        _record(), HealthInputs(now=NOW, open_opportunities=(OpenOpportunity("QUOTE", NOW, 5),))
    )
    scoring = ScoringPass(busy, clock=lambda: NOW)
    await scoring.run_once()
    await scoring.run_once()
    assert [e.type for e in busy.published] == ["crm.insights.potential_scored"]


async def test_potential_v2_is_stored_and_announced_when_it_moves_meaningfully() -> None:
    store = FakeStore(_record(), HealthInputs(now=NOW))
    store.history = CustomerHistory(
        created_at=NOW - timedelta(days=10),
        value_tier="B",
        deals=(Deal(NOW - timedelta(days=5), 200_000_000, stage="QUOTE", probability=60),),
    )
    scoring = ScoringPass(store, clock=lambda: NOW)
    await scoring.run_once()
    changed = [e for e in store.published if e.type == "crm.insights.potential_changed"]
    assert len(changed) == 1
    payload = changed[0].parse()
    assert isinstance(payload, PotentialChanged)
    assert payload.purchase_power.score == store.record.potential_scores["PURCHASE_POWER"] > 0
    assert payload.model_version == "potential-v2"
    assert payload.team == "north"
    assert payload.forecast_minor == {"CNY": 120_000_000}
    # Same facts again: same scores, nothing announced; the id is the record's n-th.
    await scoring.run_once()
    assert len([e for e in store.published if e.type.endswith("potential_changed")]) == 1
    assert store.record.potential_change_seq == 1


class CountingReader:
    tenant_id = "t1"

    def __init__(self, records: dict[str, HealthRecord]) -> None:
        self.records = records
        self.calls: list[list[str]] = []

    async def health_of(self, customer_ids: Sequence[str]) -> dict[str, HealthRecord]:
        self.calls.append(list(customer_ids))
        return {i: self.records[i] for i in customer_ids if i in self.records}


async def test_health_of_a_batch_is_one_read_and_respects_ownership() -> None:
    reader = CountingReader(
        {
            "mine": _record("mine", computed_at=NOW, owner_id="rep"),
            "theirs": _record("theirs", computed_at=NOW, owner_id="other"),
            "unscored": _record("unscored", owner_id="rep"),
        }
    )
    rep = Principal(user_id="rep", tenant_id="t1", roles=frozenset({Role.SALES_REP}))
    loader = DataLoader(load_fn=HealthService(rep, reader).health_of)
    results = await asyncio.gather(*(loader.load(i) for i in ["mine", "theirs", "unscored", "x"]))
    assert len(reader.calls) == 1
    assert [r.customer_id if r else None for r in results] == ["mine", None, None, None]
