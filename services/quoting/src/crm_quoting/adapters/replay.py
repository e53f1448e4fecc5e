"""Rebuild quoting's read models from the topics (`crm_common.events.replay`).

Read models: the customer copy (``customer_refs``, from ``crm.customer.v1``) and the tenant
settings copy. The replay seeds the rebuild with quoting's own collections (opportunities,
quotes, ...) and runs the live consumer's handlers (`adapters.events.consumer_handlers`): a
merge re-points own records that the seed holds re-pointed already, so it moves nothing.
Usage: ``make replay SERVICE=quoting [DATABASE=...]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.customers.copies import CUSTOMER_COPIES
from crm_common.events.consumer import FallbackHandler, Handler
from crm_common.events.replay import ReplaySpec
from crm_common.events.replay import main as replay_main
from crm_common.tenants import TENANT_SETTINGS, TENANT_SETTINGS_INDEXES, TenantZones
from crm_quoting.adapters.events import SUBSCRIBED_TOPICS, consumer_handlers
from crm_quoting.adapters.mongo import INDEXES


def _build(
    db: AsyncDatabase[dict[str, Any]],
) -> tuple[Mapping[str, Handler], FallbackHandler | None]:
    return consumer_handlers(db, TenantZones(db)), None


SPEC = ReplaySpec(
    service="quoting",
    topics=SUBSCRIBED_TOPICS,
    read_models={CUSTOMER_COPIES: frozenset(), TENANT_SETTINGS: frozenset()},
    indexes={**INDEXES, **TENANT_SETTINGS_INDEXES},
    build=_build,
    seed=True,
)


def main() -> None:
    replay_main(SPEC)


if __name__ == "__main__":
    main()
