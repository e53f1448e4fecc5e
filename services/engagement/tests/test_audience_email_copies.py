"""A member's e-mailed copy of an audience notification is announced however the copy came to
be (real store).

The consumer stores the audience notification, then makes the copy of every known member who
wants the kind by e-mail, with a ``notification_created`` carrying their address. Between the
two, the member may look at their inbox (or be pushed the audience notification live), which
makes their copy without an announcement. The e-mail must still go out, once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import stack
from pymongo.asynchronous.database import AsyncDatabase
from tests.support.replicas import ReplicaDatabases, replica_databases

from crm_common.clock import utc_now
from crm_common.events.outbox import OUTBOX_COLLECTION
from crm_common.mongo import Document
from crm_engagement.adapters.notifications import (
    NOTIFICATION_INDEXES,
    MongoNotificationRepository,
)
from crm_engagement.domain.notification import (
    EmailMode,
    Notification,
    NotificationKind,
    audience_key,
    copy_for,
)
from crm_engagement.service.notifications import created_event

pytestmark = [pytest.mark.e2e]


@pytest.fixture
async def replicas(infra: stack.StackConfig) -> AsyncIterator[ReplicaDatabases]:
    async with replica_databases(infra.mongodb_uri, "audcopy", NOTIFICATION_INDEXES) as databases:
        yield databases


def _audience(tenant: str) -> Notification:
    return Notification(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        recipient=audience_key("sales_manager", "north"),
        kind=NotificationKind.QUOTE_AWAITING_APPROVAL,
        title="Quote Q-1 awaits approval",
        body="Discount over the threshold.",
        created_at=utc_now(),
        source_event_id=str(uuid.uuid4()),
    )


async def _outbox_ids(db: AsyncDatabase[Document], event_id: str) -> list[str]:
    return [doc["_id"] async for doc in db[OUTBOX_COLLECTION].find({"_id": event_id})]


async def test_a_copy_made_by_a_look_first_is_still_announced_once(
    replicas: ReplicaDatabases,
) -> None:
    consumer_db, api_db = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    audience = _audience(tenant)
    assert await MongoNotificationRepository(consumer_db, tenant).add(audience, [])
    copy = copy_for(audience, "mike", inbox=True)

    # Mike looks first (another replica, the API): his copy exists, unannounced.
    assert await MongoNotificationRepository(api_db, tenant).add_copy(copy)
    event = created_event(copy, "mike@example.com", EmailMode.IMMEDIATE)
    consumer = MongoNotificationRepository(consumer_db, tenant)
    assert await consumer.add_announced(copy, [event])
    assert await _outbox_ids(consumer_db, event.id) == [event.id]
    # Redelivered: nothing more.
    assert not await consumer.add_announced(copy, [event])
    assert await _outbox_ids(consumer_db, event.id) == [event.id]
    stored = await consumer.get(copy.id)
    assert stored is not None and stored.recipient == "user:mike"


async def test_a_copy_announced_first_is_left_as_it_is(replicas: ReplicaDatabases) -> None:
    consumer_db, api_db = replicas
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    audience = _audience(tenant)
    copy = copy_for(audience, "mike", inbox=True)
    event = created_event(copy, "mike@example.com", EmailMode.IMMEDIATE)
    consumer = MongoNotificationRepository(consumer_db, tenant)
    assert await consumer.add_announced(copy, [event])
    # The look afterwards finds it there; nothing is announced twice.
    assert not await MongoNotificationRepository(api_db, tenant).add_copy(copy)
    assert not await consumer.add_announced(copy, [event])
    assert await _outbox_ids(consumer_db, event.id) == [event.id]
