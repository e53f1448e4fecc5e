"""Wires the events engagement consumes to its reactions.

Engagement subscribes to every service topic: typed handlers react to the few events that
change its own records, and the consumer's fallback puts every other event (even of types that
have no contract yet) into the customer timeline.
"""

from __future__ import annotations

from crm_common.events.consumer import FallbackHandler, Handler
from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import CustomerCreated, CustomerMerged
from crm_common.events.contracts.insights import ChurnRiskRaised
from crm_common.events.envelope import CloudEvent
from crm_common.events.topics import SERVICES, service_topic
from crm_engagement.service.reactions import Reactions

SUBSCRIBED_TOPICS = [service_topic(s) for s in SERVICES]


def handlers(reactions: Reactions) -> tuple[dict[str, Handler], FallbackHandler]:
    async def customer_created(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerCreated)
        await reactions.customer_created(event, payload)

    async def customer_merged(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, CustomerMerged)
        await reactions.customer_merged(event, payload)

    async def churn_risk_raised(event: CloudEvent, payload: EventData) -> None:
        assert isinstance(payload, ChurnRiskRaised)
        await reactions.churn_risk_raised(event, payload)

    typed: dict[str, Handler] = {
        CustomerCreated.event_type: customer_created,
        CustomerMerged.event_type: customer_merged,
        ChurnRiskRaised.event_type: churn_risk_raised,
    }
    return typed, reactions.any_event
