"""LiveFeed against the real broker: no group, latest offset, every feed sees every event once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import stack

from crm_common.live import LiveFeed
from tests.e2e.engagement_support import crafted_event, publish

pytestmark = [pytest.mark.e2e]

TOPIC = "crm.engagement.v1"


async def test_two_feeds_each_see_every_event_once_from_now_on(infra: stack.StackConfig) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    before = crafted_event("crm.e2e.before", tenant, "k", {}, datetime.now(UTC))
    await publish(infra, TOPIC, [before])
    feeds = [LiveFeed([TOPIC], infra.kafka_bootstrap, service=f"feed-{n}") for n in range(2)]
    for feed in feeds:
        await feed.start()
    try:
        for feed in feeds:
            assert await feed.wait_positioned(60), "the feed never got its partitions"
        listeners = [feed.listen(lambda e: e.tenant_id == tenant) for feed in feeds]
        events = [
            crafted_event("crm.e2e.happened", tenant, f"key-{n}", {"n": n}, datetime.now(UTC))
            for n in range(6)
        ]
        # The third one twice, as a relay may publish an entry twice.
        await publish(infra, TOPIC, [*events[:3], events[2], *events[3:]])
        wanted = {e.id for e in events}
        for listener in listeners:
            received: list[str] = []
            while set(received) != wanted:
                received.append((await asyncio.wait_for(listener.get(), 60)).id)
            assert len(received) == len(wanted)  # the duplicate was handed out once
            assert before.id not in received
        # And nothing more is queued: a later event is the next one each listener gets.
        last = crafted_event("crm.e2e.last", tenant, "key-9", {}, datetime.now(UTC))
        await publish(infra, TOPIC, [last])
        for listener in listeners:
            assert (await asyncio.wait_for(listener.get(), 60)).id == last.id
    finally:
        for feed in feeds:
            await feed.stop()
