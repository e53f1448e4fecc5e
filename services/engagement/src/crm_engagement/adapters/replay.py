"""Rebuild engagement's read models from the topics (`crm_common.events.replay`).

Read models: the customer copy (``customer_refs``: the copied customer, the first contact
time from ``contact_added``/``created``, the cadence from ``cadence_changed``), the customer
timeline (every event of every topic naming a customer) and the tenant settings copy.

The replay seeds the rebuild with engagement's own collections and runs the live consumer's
handlers (`adapters.events.consumer_handlers`; the e-mail handler is left out: sending is no
read model). Records engagement derives from events and then owns — care plans and their
visits after a DEAL, retention follow-ups after a churn warning, notifications — are NOT
re-derived: they live on after they are made (visits finished, follow-ups completed,
notifications read), so the seed holds them and the handlers, keyed by the same derived ids,
find them there and change nothing.

Fields of engagement's own kept on the copy by its use cases (``priority``, the last
interaction, the first touch) are carried from live (`ReplaySpec.own_fields`).
Usage: ``make replay SERVICE=engagement [DATABASE=...]``.
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
from crm_engagement.adapters.email_notifications import DIGEST_INDEXES
from crm_engagement.adapters.events import SUBSCRIBED_TOPICS, consumer_handlers
from crm_engagement.adapters.mongo import INDEXES, TIMELINE
from crm_engagement.adapters.notifications import NOTIFICATION_INDEXES
from crm_engagement.adapters.webhooks import WEBHOOK_INDEXES

# Written on the copy by engagement's own use cases (`MongoCustomerRefs`: the priority,
# interactions logged or edited, the first touch), not by events.
OWN_FIELDS_ON_COPY = ("priority", "last_interaction_at", "first_touch_at", "first_touch_by")


def _nothing() -> None:
    """No outbox relay runs on a rebuild: nothing to wake."""


def _build(
    db: AsyncDatabase[dict[str, Any]],
) -> tuple[Mapping[str, Handler], FallbackHandler | None]:
    return consumer_handlers(db, _nothing, TenantZones(db))


SPEC = ReplaySpec(
    service="engagement",
    topics=SUBSCRIBED_TOPICS,
    read_models={
        CUSTOMER_COPIES: frozenset(),
        TIMELINE: frozenset(),
        TENANT_SETTINGS: frozenset(),
    },
    indexes={
        **INDEXES,
        **NOTIFICATION_INDEXES,
        **WEBHOOK_INDEXES,
        **DIGEST_INDEXES,
        **TENANT_SETTINGS_INDEXES,
    },
    build=_build,
    seed=True,
    own_fields={CUSTOMER_COPIES: OWN_FIELDS_ON_COPY},
)


def main() -> None:
    replay_main(SPEC)


if __name__ == "__main__":
    main()
