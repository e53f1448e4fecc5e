"""Rebuild the customer service's read models from the topics (`crm_common.events.replay`).

Read model: the follow-up cadence (``customer_cadence``), re-derived by the live consumer's
handlers (`adapters.events.handlers`) from quoting's ``opportunity_assessed`` /
``opportunity_stalled`` and engagement's ``interaction_logged``, together with the decisions
the service made itself and announced on its own topic as ``cadence_changed``: a person's
decision (``setEngagementCadence``, source MANUAL) and a merge's carry-over (source MERGE, with
the merged customer's history), applied again from the announcement
(`CadenceReactions.on_recorded`, a handler only the rebuild has). The handlers read the
customer (owner, team, tombstone), so the rebuild is seeded with the service's own
collections first.

Not rebuilt, and why:

- the DEAL status, deal revenue and value tier an accepted quote brings are written on the
  customer's own versioned record, with its history and its own announcements: the seed holds
  them, and the handler (keyed by the quote id kept on the customer) changes nothing.

Usage: ``make replay SERVICE=customer [DATABASE=...]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.consumer import FallbackHandler, Handler
from crm_common.events.replay import ReplaySpec
from crm_common.events.replay import main as replay_main
from crm_common.tenants import TENANT_SETTINGS_INDEXES
from crm_customer.adapters.cadence import CADENCE_INDEXES, CUSTOMER_CADENCE
from crm_customer.adapters.custom_fields import CUSTOM_FIELD_INDEXES
from crm_customer.adapters.events import REBUILD_TOPICS, handlers
from crm_customer.adapters.jobs import JOB_INDEXES
from crm_customer.adapters.mongo import INDEXES


def _nothing() -> None:
    """No outbox relay runs on a rebuild: nothing to wake."""


def _build(
    db: AsyncDatabase[dict[str, Any]],
) -> tuple[Mapping[str, Handler], FallbackHandler | None]:
    return handlers(db, _nothing, rebuild=True), None


SPEC = ReplaySpec(
    service="customer",
    topics=REBUILD_TOPICS,
    # ``_outbox_ids``: the ids of the outbox entries the last change staged (new ids on each
    # write: live's were published, a rebuild's are dropped); not what the cadence is.
    read_models={CUSTOMER_CADENCE: frozenset({"_outbox_ids"})},
    indexes={
        **INDEXES,
        **JOB_INDEXES,
        **CUSTOM_FIELD_INDEXES,
        **CADENCE_INDEXES,
        **TENANT_SETTINGS_INDEXES,
    },
    build=_build,
    seed=True,
)


def main() -> None:
    replay_main(SPEC)


if __name__ == "__main__":
    main()
