"""The customer timeline: recording any event about a customer, and reading it back."""

from __future__ import annotations

from collections.abc import Sequence

from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_engagement.domain.timeline import TimelineEntry, customer_of
from crm_engagement.service.base import UseCase
from crm_engagement.service.ports import TimelineRepository

MAX_TYPES = 50


async def record_in_timeline(event: CloudEvent, timeline: TimelineRepository) -> bool:
    """Store the event as a timeline entry of its customer (once per event id)."""
    customer_id = customer_of(event.type, event.key, event.data)
    if customer_id is None:
        return False
    return await timeline.add(
        TimelineEntry(
            event_id=event.id,
            tenant_id=event.tenant_id,
            customer_id=customer_id,
            type=event.type,
            source=event.source,
            occurred_at=event.time,
            data=event.data,
        )
    )


class TimelineService(UseCase):
    async def for_customer(
        self,
        customer_id: str,
        types: Sequence[str] | None,
        page: PageRequest,
        newest_first: bool,
    ) -> Page[TimelineEntry]:
        if not await self._may_see_id(customer_id):
            return Page(items=[], has_next_page=False, has_previous_page=False, total_count=0)
        if types is not None and len(types) > MAX_TYPES:
            from crm_common.errors import BadUserInput

            raise BadUserInput(f"at most {MAX_TYPES} types", field="types")
        return await self._stores.timeline.for_customer(customer_id, types, page, newest_first)
