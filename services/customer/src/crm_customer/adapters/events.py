"""Wires the events the customer service consumes to its use cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.consumer import Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC as CUSTOMER_TOPIC
from crm_common.events.contracts.customer_cadence import CustomerCadenceChanged
from crm_common.events.contracts.engagement import InteractionLogged
from crm_common.events.contracts.quoting import (
    OpportunityAssessed,
    OpportunityStalled,
    QuoteAccepted,
)
from crm_common.events.envelope import CloudEvent
from crm_customer.adapters.cadence import MongoCadenceRepository
from crm_customer.adapters.mongo import MongoCustomerRepository
from crm_customer.adapters.tiers import MongoTierThresholds
from crm_customer.domain.tiers import TierThresholds
from crm_customer.service.cadence import CadenceReactions
from crm_customer.service.quote_events import on_quote_accepted

# Engagement's interactions end a customer's observation period (`domain.cadence`).
SUBSCRIBED_TOPICS = ["crm.quoting.v1", "crm.engagement.v1"]
# A rebuild by replay also reads the service's own topic: the cadence decisions the service
# made itself (manual, merge) are applied from their announcements (`CadenceReactions.on_recorded`).
REBUILD_TOPICS = [*SUBSCRIBED_TOPICS, CUSTOMER_TOPIC]


def handlers(
    db: AsyncDatabase[dict[str, Any]], notify_outbox: Callable[[], None], *, rebuild: bool = False
) -> dict[str, Handler]:
    """The live consumer's handlers; with ``rebuild``, also the one for the service's own
    announced cadence decisions (live applies those when it makes them)."""

    def repository(tenant_id: str) -> MongoCustomerRepository:
        return MongoCustomerRepository(db, tenant_id)

    async def thresholds(tenant_id: str) -> TierThresholds:
        return await MongoTierThresholds(db, tenant_id).get()

    async def quote_accepted(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, QuoteAccepted)
        await on_quote_accepted(event, payload, repository, notify_outbox, thresholds)

    cadence = CadenceReactions(
        lambda tenant: MongoCadenceRepository(db, tenant), repository, notify_outbox
    )

    async def assessed(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, OpportunityAssessed)
        await cadence.on_assessed(event, payload)

    async def stalled(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, OpportunityStalled)
        await cadence.on_stalled(event, payload)

    async def interaction(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, InteractionLogged)
        await cadence.on_interaction(event, payload)

    async def recorded(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerCadenceChanged)
        await cadence.on_recorded(event, payload)

    typed: dict[str, Handler] = {
        QuoteAccepted.event_type: quote_accepted,
        OpportunityAssessed.event_type: assessed,
        OpportunityStalled.event_type: stalled,
        InteractionLogged.event_type: interaction,
    }
    if rebuild:
        typed[CustomerCadenceChanged.event_type] = recorded
    return typed
