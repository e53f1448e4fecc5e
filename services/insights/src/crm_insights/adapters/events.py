"""Wires the events insights consumes to the projections (and wakes the scoring pass)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.envelope import CloudEvent
from crm_insights.adapters.mongo import MongoFactWriter
from crm_insights.service.projections import SUBSCRIBED_TOPICS, apply_event, event_types

__all__ = ["SUBSCRIBED_TOPICS", "handlers"]


def handlers(
    db: AsyncDatabase[dict[str, Any]], on_dirty: Callable[[], None] | None = None
) -> dict[str, Handler]:
    def writer(tenant_id: str) -> MongoFactWriter:
        return MongoFactWriter(db, tenant_id)

    async def handle(event: CloudEvent, payload: EventData) -> None:
        await apply_event(event, payload, writer, on_dirty)

    return dict.fromkeys(event_types(), handle)
