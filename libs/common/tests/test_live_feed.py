"""LiveFeed dispatch without Kafka: predicates, bounded queues, slow listeners, duplicates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from crm_common.events.envelope import CloudEvent
from crm_common.live import (
    FeedClosed,
    LiveFeed,
    RecentIds,
    SharedReads,
    SlowListener,
    record_changes,
    record_events,
)


def event(
    event_id: str, *, tenant: str = "t1", type: str = "crm.x.happened", **data: str
) -> CloudEvent:
    return CloudEvent(
        id=event_id,
        type=type,
        source="crm/test",
        time=datetime(2026, 1, 1, tzinfo=UTC),
        tenant_id=tenant,
        key="k",
        data=dict(data),
    )


def feed(**kwargs: int) -> LiveFeed:
    return LiveFeed(["crm.x.v1"], "127.0.0.1:1", service="test", **kwargs)


async def test_each_listener_gets_what_its_predicate_accepts_in_order() -> None:
    live = feed()
    t1 = live.listen(lambda e: e.tenant_id == "t1")
    t2 = live.listen(lambda e: e.tenant_id == "t2")
    assert live.dispatch(event("a")) == 1
    assert live.dispatch(event("b", tenant="t2")) == 1
    assert live.dispatch(event("c")) == 1
    assert [(await t1.get()).id, (await t1.get()).id] == ["a", "c"]
    assert (await t2.get()).id == "b"
    t1.close()
    assert live.listener_count == 1


async def test_an_event_published_twice_is_handed_out_once() -> None:
    live = feed()
    listener = live.listen(lambda e: True)
    assert live.dispatch(event("a")) == 1
    assert live.dispatch(event("a")) == 0
    assert live.dispatch(event("b")) == 1
    assert [(await listener.get()).id for _ in range(2)] == ["a", "b"]


def test_recent_ids_forget_the_oldest() -> None:
    recent = RecentIds(size=2)
    assert recent.first_time("a") and recent.first_time("b") and recent.first_time("c")
    assert not recent.first_time("c")
    assert recent.first_time("a")  # forgotten


async def test_a_slow_listener_is_dropped_with_an_error_and_others_keep_going() -> None:
    live = feed(max_queued=3)
    slow = live.listen(lambda e: True)
    fast = live.listen(lambda e: True)
    received: list[str] = []
    for n in range(5):
        live.dispatch(event(f"e{n}"))
        received.append((await fast.get()).id)
    assert received == [f"e{n}" for n in range(5)]
    assert live.listener_count == 1  # the slow one was removed
    with pytest.raises(SlowListener) as raised:
        await slow.get()
    assert raised.value.code.value == "SERVICE_UNAVAILABLE"
    with pytest.raises(SlowListener):
        await slow.get()  # and stays failed


async def test_a_failing_predicate_skips_only_that_listener() -> None:
    live = feed()

    def broken(_: CloudEvent) -> bool:
        raise RuntimeError("bug")

    live.listen(broken)
    ok = live.listen(lambda e: True)
    assert live.dispatch(event("a")) == 1
    assert (await ok.get()).id == "a"


async def test_stopping_ends_waiting_listeners() -> None:
    live = feed()
    listener = live.listen(lambda e: True)
    waiting = asyncio.create_task(listener.get())
    await asyncio.sleep(0)
    await live.stop()
    with pytest.raises(FeedClosed):
        await waiting
    with pytest.raises(FeedClosed):
        live.listen(lambda e: True)


async def test_record_changes_rereads_per_event_and_ends_when_the_record_is_gone() -> None:
    live = feed()
    states = iter(["v1", "v2", None])

    async def read() -> str | None:
        return next(states)

    wanted = record_events("t1", "crm.x.ticket_", "ticket_id", "T1")
    assert wanted(event("a", type="crm.x.ticket_opened", ticket_id="T1"))
    assert not wanted(event("a", type="crm.x.ticket_opened", ticket_id="T2"))
    assert not wanted(event("a", tenant="t2", type="crm.x.ticket_opened", ticket_id="T1"))
    assert not wanted(event("a", type="crm.x.order_opened", ticket_id="T1"))
    changes = record_changes(live, wanted, read, "ticket T1")
    first = asyncio.create_task(anext(changes))
    for _ in range(10):  # let the generator reach its listener
        await asyncio.sleep(0)
    assert live.listener_count == 1
    live.dispatch(event("a", type="crm.x.ticket_opened", ticket_id="T1"))
    assert await first == "v1"
    live.dispatch(event("b", type="crm.x.ticket_assigned", ticket_id="T1"))
    assert await anext(changes) == "v2"
    live.dispatch(event("c", type="crm.x.ticket_resolved", ticket_id="T1"))
    with pytest.raises(Exception, match="not found"):
        await anext(changes)
    assert live.listener_count == 0


async def test_shared_reads_run_once_per_key() -> None:
    shared = SharedReads(size=2)
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return calls

    results = await asyncio.gather(*(shared.once("k", read) for _ in range(5)))
    assert results == [1] * 5 and calls == 1
    assert await shared.once("other", read) == 2


async def test_a_listener_ends_when_the_token_expires() -> None:
    import time

    from crm_common.errors import Unauthenticated

    live = feed()
    listener = live.listen(lambda e: True)
    live.dispatch(event("a"))
    assert (await listener.get(time.time() + 60)).id == "a"
    with pytest.raises(Unauthenticated):
        await listener.get(time.time() + 0.05)
    with pytest.raises(Unauthenticated):
        await listener.get(time.time() - 1)


def test_a_process_holds_a_bounded_number_of_listeners() -> None:
    from crm_common.live import TooManyListeners

    live = LiveFeed(["crm.x.v1"], "127.0.0.1:1", max_listeners=2)
    first = live.listen(lambda e: True)
    live.listen(lambda e: True)
    with pytest.raises(TooManyListeners):
        live.listen(lambda e: True)
    first.close()
    live.listen(lambda e: True)
