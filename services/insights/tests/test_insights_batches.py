"""Applying a poll's events as one batch: same changes, same order as one by one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from crm_common.events.contracts import customer as c
from crm_common.events.contracts import engagement as e
from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from crm_insights.service.ports import Fact, FactChange
from crm_insights.service.projections import apply_events

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class RecordingWriter:
    """Records the calls a batch makes (in memory: the projection logic is what is tested)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def write(
        self, changes: Sequence[tuple[str, FactChange]], dirty: Sequence[tuple[str, str]]
    ) -> None:
        self.calls.append(("write", ([(t, ch.fact, ch.id) for t, ch in changes], list(dirty))))

    async def repoint_customer(self, tenant_id: str, merged_id: str, kept_id: str) -> None:
        self.calls.append(("repoint", (tenant_id, merged_id, kept_id)))

    async def merged_into(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        return {}


def _event(payload: EventData, tenant: str = "t1") -> tuple[CloudEvent, EventData]:
    key = getattr(payload, "customer_id", None) or getattr(payload, "kept_id", "k")
    return CloudEvent.new(payload, source="test", tenant_id=tenant, key=key), payload


def _created(customer_id: str, minutes: int = 0, **profile: str) -> c.CustomerCreated:
    return c.CustomerCreated(
        customer_id=customer_id,
        number="CUS20261123001",
        name=customer_id,
        status="PENDING_REVIEW",
        owner_id="rep",
        created_at=AT + timedelta(minutes=minutes),
        **profile,  # type: ignore[arg-type]
    )


async def test_a_batch_writes_once_and_flags_each_customer_once() -> None:
    writer = RecordingWriter()
    flagged = await apply_events(
        [
            _event(_created("a")),
            _event(c.CustomerReviewApproved(customer_id="a", actor_id="m", approved_at=AT)),
            _event(_created("b"), tenant="t2"),
        ],
        writer,
    )
    assert flagged
    assert writer.calls == [
        (
            "write",
            (
                [
                    ("t1", Fact.CUSTOMERS, "a"),
                    ("t1", Fact.CUSTOMERS, "a"),
                    ("t2", Fact.CUSTOMERS, "b"),
                ],
                [("t1", "a"), ("t2", "b")],
            ),
        )
    ]


async def test_a_merge_flushes_what_came_before_it_and_repoints_in_place() -> None:
    writer = RecordingWriter()
    await apply_events(
        [
            _event(_created("old")),
            _event(c.CustomerMerged(kept_id="kept", merged_id="old", actor_id="m", merged_at=AT)),
            _event(_created("new", minutes=1)),
        ],
        writer,
    )
    assert [name for name, _ in writer.calls] == ["write", "repoint", "write"]
    assert writer.calls[1] == ("repoint", ("t1", "old", "kept"))


async def test_created_carries_type_region_and_source_into_the_customer_fact() -> None:
    writer = RecordingWriter()
    captured: list[FactChange] = []

    async def write(
        changes: Sequence[tuple[str, FactChange]], dirty: Sequence[tuple[str, str]]
    ) -> None:
        captured.extend(change for _, change in changes)

    writer.write = write  # type: ignore[method-assign]
    payload = _created(
        "a",
        customer_type="POTENTIAL",
        region_province="广东省",
        region_city="深圳市",
        source_channel="WEBSITE",
    )
    await apply_events([_event(payload)], writer)
    values = captured[0].values or {}
    assert (values["customer_type"], values["region"], values["city"], values["source"]) == (
        "POTENTIAL",
        "广东省",
        "深圳市",
        "WEBSITE",
    )


class MergesKnownWriter(RecordingWriter):
    """Knows merges stored before the batch; keeps the changes written."""

    def __init__(self, merged: dict[str, str]) -> None:
        super().__init__()
        self.merged = merged
        self.changes: list[FactChange] = []
        self.dirty: list[tuple[str, str]] = []

    async def write(
        self, changes: Sequence[tuple[str, FactChange]], dirty: Sequence[tuple[str, str]]
    ) -> None:
        self.changes.extend(change for _, change in changes)
        self.dirty.extend(dirty)

    async def merged_into(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        return {cid: self.merged[cid] for cid in customer_ids if cid in self.merged}


def _interaction(customer_id: str) -> e.InteractionLogged:
    return e.InteractionLogged(
        interaction_id=f"i-{customer_id}",
        customer_id=customer_id,
        kind="VISIT",
        occurred_at=AT,
        owner_id="rep",
    )


async def test_a_fact_of_a_customer_merged_earlier_in_the_batch_goes_to_the_kept_one() -> None:
    """The order the topics are read in does not decide where a merged customer's facts end."""
    writer = MergesKnownWriter({})
    await apply_events(
        [
            _event(c.CustomerMerged(kept_id="kept", merged_id="old", actor_id="m", merged_at=AT)),
            _event(_interaction("old")),
        ],
        writer,
    )
    interaction = next(ch for ch in writer.changes if ch.fact is Fact.INTERACTIONS)
    assert interaction.values is not None
    assert (interaction.values["customer_id"], interaction.values["merged_from"]) == (
        "kept",
        "old",
    )
    assert ("t1", "old") not in writer.dirty


async def test_a_fact_of_a_customer_merged_before_follows_the_chain_of_merges() -> None:
    writer = MergesKnownWriter({"a": "b", "b": "c"})
    await apply_events([_event(_interaction("a")), _event(_interaction("x"))], writer)
    by_id = {ch.id: ch.values or {} for ch in writer.changes if ch.fact is Fact.INTERACTIONS}
    assert (by_id["i-a"]["customer_id"], by_id["i-a"]["merged_from"]) == ("c", "b")
    assert by_id["i-x"]["customer_id"] == "x" and "merged_from" not in by_id["i-x"]
    assert ("t1", "c") in writer.dirty and ("t1", "a") not in writer.dirty
