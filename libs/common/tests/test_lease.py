"""`crm_common.coordination.Lease` with two holders against the real store (FerretDB locally).

Each holder has its own client with one connection, like two replicas. Time is a clock the test
moves (the lease takes one), so the checks are about slots, not about how fast anything runs;
one test also runs both holders on the real clock and checks that no slot ever had two holders.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import stack
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_common.coordination import LEASES_COLLECTION, Lease, deterministic_event_id

pytestmark = [pytest.mark.e2e]

SLOT_S = 10.0


class Clock:
    """A wall clock the test moves by hand (both holders read the same one)."""

    def __init__(self) -> None:
        # Start just after a slot boundary, so the steps below line up with slots.
        self.now = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=0.1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def slot(self) -> int:
        return int(self.now.timestamp() // SLOT_S)


@pytest.fixture
async def two_replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "lease") as databases:
        yield databases


async def test_one_holder_per_slot_and_the_holder_keeps_it(
    two_replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = two_replicas
    clock = Clock()
    a = Lease(db_a, "job", holder="a", slot_s=SLOT_S, clock=clock)
    b = Lease(db_b, "job", holder="b", slot_s=SLOT_S, clock=clock)

    holders_by_slot: dict[int, set[str]] = {}
    for step in range(24):  # six slots, four looks per slot; the two alternate who asks first
        first, second = (a, b) if step % 2 == 0 else (b, a)
        for lease in (first, second):
            if await lease.held():
                holders_by_slot.setdefault(clock.slot(), set()).add(lease.holder)
        clock.advance(SLOT_S / 4)

    assert all(len(holders) == 1 for holders in holders_by_slot.values()), holders_by_slot
    # Someone held every slot, and it was the first taker throughout (it renews ahead).
    assert len(holders_by_slot) == 6
    assert {h for holders in holders_by_slot.values() for h in holders} == {"a"}


async def test_the_other_takes_over_within_two_slots_when_the_holder_stops(
    two_replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = two_replicas
    clock = Clock()
    a = Lease(db_a, "job", holder="a", slot_s=SLOT_S, clock=clock)
    b = Lease(db_b, "job", holder="b", slot_s=SLOT_S, clock=clock)
    for _ in range(6):  # a holds, and renews into the next slot
        assert await a.held()
        assert not await b.held()
        clock.advance(SLOT_S / 4)

    # a stops renewing (it died): b asks every quarter slot and gets it within two slots.
    stopped_at = clock.now
    while not await b.held():
        clock.advance(SLOT_S / 4)
        assert clock.now - stopped_at <= timedelta(seconds=2 * SLOT_S), "no take-over"
    taken_at = clock.now
    # From then on b holds it, and a (come back) does not.
    for _ in range(8):
        assert await b.held()
        assert not await a.held()
        clock.advance(SLOT_S / 4)
    assert taken_at > stopped_at


async def test_a_released_lease_goes_to_the_other_at_the_next_slot(
    two_replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = two_replicas
    clock = Clock()
    a = Lease(db_a, "job", holder="a", slot_s=SLOT_S, clock=clock)
    b = Lease(db_b, "job", holder="b", slot_s=SLOT_S, clock=clock)
    clock.advance(SLOT_S * 0.6)
    assert await a.held()  # past the half: a has the next slot too
    assert await db_a[LEASES_COLLECTION].count_documents({"holder": "a"}) == 2
    await a.release()  # a shuts down: the slot ahead is given back
    assert not await b.held()  # the current slot is still a's
    clock.advance(SLOT_S * 0.5)
    assert await b.held()


async def test_two_holders_on_the_real_clock_never_share_a_slot(
    two_replicas: ReplicaDatabases,
) -> None:
    db_a, db_b = two_replicas
    slot_s = 0.5
    leases = [
        Lease(db_a, "live", holder="a", slot_s=slot_s),
        Lease(db_b, "live", holder="b", slot_s=slot_s),
    ]
    seen: dict[int, set[str]] = {}

    def slot() -> int:
        return int(datetime.now(UTC).timestamp() // slot_s)

    async def replica(lease: Lease, stop_after_slot: int | None) -> None:
        while True:
            before = slot()
            held = await lease.held()
            after = slot()
            if held and before == after:
                seen.setdefault(before, set()).add(lease.holder)
            if stop_after_slot is not None and after >= stop_after_slot:
                return  # "dies": stops renewing, releases nothing
            if len(seen) >= 12:
                return
            await asyncio.sleep(slot_s / 10)

    start = slot()
    # a dies a few slots in; b must take over and hold the rest.
    await asyncio.wait_for(
        asyncio.gather(replica(leases[0], start + 4), replica(leases[1], None)), timeout=120
    )
    assert all(len(holders) == 1 for holders in seen.values()), seen
    assert "b" in set().union(*seen.values())


def test_deterministic_event_ids() -> None:
    one = deterministic_event_id("quoting.quote-expired", "t1", "q1", "1", "2026-11-22")
    assert one == deterministic_event_id("quoting.quote-expired", "t1", "q1", "1", "2026-11-22")
    assert one != deterministic_event_id("quoting.quote-expired", "t1", "q1", "2", "2026-11-22")
    assert one != deterministic_event_id("quoting.quote-expired", "t1", "q1:2", "2026-11-22")
    assert str(uuid.UUID(one)) == one
