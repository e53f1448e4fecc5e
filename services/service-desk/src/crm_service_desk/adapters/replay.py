"""Rebuild the service desk's read models from the topics (`crm_common.events.replay`).

Read models: the customer copy (``customer_refs``, from ``crm.customer.v1``) and the tenant
settings copy. The replay seeds the rebuild with the desk's own collections and runs the live
consumer's handlers (`adapters.events.consumer_handlers`). Records the desk derives from events
but then owns (service orders from accepted quotes, surveys after a resolution or delivery,
improvement tasks from low answers and complaints: each under an id or unique key derived from
its source) are NOT re-derived: they live on (assigned, answered, closed) after they are made,
so the seed holds them and the handlers, keyed by the same ids, find them there and change
nothing. Usage: ``make replay SERVICE=service-desk [DATABASE=...]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.customers.copies import CUSTOMER_COPIES
from crm_common.events.consumer import FallbackHandler, Handler
from crm_common.events.replay import ReplaySpec
from crm_common.events.replay import main as replay_main
from crm_common.tenants import TENANT_SETTINGS, TENANT_SETTINGS_INDEXES, TenantZones
from crm_service_desk.adapters.events import SUBSCRIBED_TOPICS, consumer_handlers
from crm_service_desk.adapters.improvement import INDEXES as TASK_INDEXES
from crm_service_desk.adapters.mongo import INDEXES


def _nothing() -> None:
    """No outbox relay runs on a rebuild: nothing to wake."""


def _build(
    db: AsyncDatabase[dict[str, Any]],
) -> tuple[Mapping[str, Handler], FallbackHandler | None]:
    # A survey link is only made for a survey the seed does not hold (none: see above).
    survey_url = os.environ.get("SURVEY_RESPONSE_URL", "http://localhost/surveys/respond")
    return consumer_handlers(db, _nothing, survey_url, TenantZones(db)), None


SPEC = ReplaySpec(
    service="service-desk",
    topics=SUBSCRIBED_TOPICS,
    read_models={CUSTOMER_COPIES: frozenset(), TENANT_SETTINGS: frozenset()},
    indexes={**INDEXES, **TASK_INDEXES, **TENANT_SETTINGS_INDEXES},
    build=_build,
    seed=True,
)


def main() -> None:
    replay_main(SPEC)


if __name__ == "__main__":
    main()
