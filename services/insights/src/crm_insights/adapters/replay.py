"""Rebuild every insights read model into an EMPTY database by replaying the topics.

A fresh consumer (unique group id, nothing committed) is assigned every partition of the
subscribed topics, seeks to the beginning and reads up to the end offsets captured when the
replay starts; each record goes through the same projections as the live consumer, with the
same processed-ids ledger. Then every customer is scored once, without publishing (the live
service already announced its crossings).

Period keys are computed in each tenant's CURRENT time zone: before the main pass, a first
pass reads ``crm.customer.v1`` for ``tenant_settings_changed`` events only and fills the
rebuilt database's settings copy (version-guarded, so it ends at the latest settings). So a
replay is also how keys written before a zone change (or before zones existed: UTC) are
migrated. The generic parts (reading the topics to the end, the target database, the
comparison, the command line) are `crm_common.events.replay`'s. Usage::

    make replay SERVICE=insights [DATABASE=crm_insights_rebuilt]
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events.contracts.base import EventData
from crm_common.events.contracts.customer import TOPIC as CUSTOMER_TOPIC
from crm_common.events.contracts.customer import TenantSettingsChanged
from crm_common.events.envelope import CloudEvent, MalformedEvent
from crm_common.events.replay import (
    ReplayCounts,
    ReplaySpec,
    ensure_empty,
    partitions_of,
    read_to_end,
)
from crm_common.events.replay import main as replay_main
from crm_common.mongo import ensure_indexes
from crm_common.tenants import (
    TENANT_SETTINGS,
    TENANT_SETTINGS_INDEXES,
    TenantZones,
    apply_settings_event,
)
from crm_insights.adapters.batch_consumer import BatchLedger
from crm_insights.adapters.mongo import (
    HEALTH,
    INDEXES,
    READ_MODELS,
    MongoFactBatchWriter,
    MongoHealthStore,
)
from crm_insights.adapters.service_reports import INDEXES as SERVICE_REPORT_INDEXES
from crm_insights.service.projections import SUBSCRIBED_TOPICS, apply_events, event_types
from crm_insights.service.scoring import ScoringPass


async def replay_tenant_settings(
    db: AsyncDatabase[dict[str, Any]],
    bootstrap_servers: str,
    zones: TenantZones,
    tenants: Collection[str] | None = None,
) -> int:
    """The first pass: every tenant's latest settings into ``db``'s copy; returns how many
    settings events were read."""
    seen = 0
    async for events in read_to_end(bootstrap_servers, [CUSTOMER_TOPIC], tenants=tenants):
        for event in events:
            if event.type == TenantSettingsChanged.event_type:
                await apply_settings_event(db, event, event.parse(), zones)
                seen += 1
    return seen


async def replay_into(
    db: AsyncDatabase[dict[str, Any]], bootstrap_servers: str, topics: list[str] | None = None
) -> int:
    """Replay ``topics`` (default: all insights consumes) into ``db``; returns events applied."""
    await ensure_empty(db)
    await ensure_indexes(db, INDEXES_ALL)
    return (await _replay(db, bootstrap_servers, topics=topics)).applied


async def _replay(
    db: AsyncDatabase[dict[str, Any]],
    bootstrap_servers: str,
    tenants: Collection[str] | None = None,
    topics: list[str] | None = None,
) -> ReplayCounts:
    zones = TenantZones(db)
    await replay_tenant_settings(db, bootstrap_servers, zones, tenants)
    ledger = BatchLedger(db, "insights")
    writer = MongoFactBatchWriter(db)
    wanted = set(event_types())
    read = applied = 0
    async for events in read_to_end(
        bootstrap_servers, topics or SUBSCRIBED_TOPICS, tenants=tenants
    ):
        # The same batches as the live consumer: one ledger read and one write per
        # collection for a poll's records.
        read += len(events)
        decoded: dict[str, tuple[CloudEvent, EventData]] = {}
        for event in events:
            if event.type not in wanted:
                continue
            try:
                decoded.setdefault(event.id, (event, event.parse()))
            except MalformedEvent:
                continue  # the live consumer dead-lettered it too
        seen = await ledger.seen(list(decoded))
        batch = [item for event_id, item in decoded.items() if event_id not in seen]
        await apply_events(batch, writer, zone_of=zones.zone_of)
        await ledger.record([event for event, _ in batch], "applied")
        applied += len(batch)
    store = MongoHealthStore(db)
    await store.mark_all_dirty()
    await ScoringPass(store, emit_events=False).run_until_idle()
    return ReplayCounts(read=read, applied=applied)


INDEXES_ALL = {**INDEXES, **SERVICE_REPORT_INDEXES, **TENANT_SETTINGS_INDEXES}
# Bookkeeping of the live scoring pass, not part of the model: fields recomputed on every
# pass (``computed_at``, ``next_rescore_at``), the re-score flag and its counter (how often a
# customer was flagged, not what is known about it), the outbox ids of the last save, and the
# announcement counters (``churn_seq``/``potential_seq``: how often a crossing was announced;
# the replay scores once and announces nothing), and potential-v2's announcement state (which
# scores were last announced depends on when the live pass ran, not on what is known).
HEALTH_BOOKKEEPING = frozenset(
    {
        "computed_at",
        "next_rescore_at",
        "dirty",
        "dirty_seq",
        "_outbox_ids",
        "churn_seq",
        "potential_seq",
        "potential_announced",
        "potential_change_seq",
    }
)
SPEC = ReplaySpec(
    service="insights",
    topics=SUBSCRIBED_TOPICS,
    read_models={
        **{name: frozenset() for name in READ_MODELS if name != HEALTH},
        HEALTH: HEALTH_BOOKKEEPING,
        TENANT_SETTINGS: frozenset(),
    },
    indexes=INDEXES_ALL,
    custom=_replay,
)


def main() -> None:
    replay_main(SPEC)


if __name__ == "__main__":
    main()


__all__ = ["SPEC", "partitions_of", "replay_into"]
