"""The event contracts, one module per producing service: the single source of truth.

Producers build these models, consumers parse with them, and the AsyncAPI document and JSON
Schemas are generated from them.
"""

from __future__ import annotations

from crm_common.events.contracts.base import EventData, registry
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.contracts.engagement import InteractionLogged

__all__ = ["CustomerCreated", "EventData", "InteractionLogged", "registry"]
