"""Finds customers stored before the current derived fields and normalises them (startup).

Runs in the holder of the ``customer.derived-migration`` lease; each customer is normalised
by a conditional write (`crm_customer.service.migration`), so two processes overlapping
during a lease handover still write each customer once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pymongo.asynchronous.database import AsyncDatabase

from crm_common.mongo import CrossTenant, Document
from crm_customer.adapters.mongo import CUSTOMERS, DERIVED_VERSION, MongoCustomerRepository
from crm_customer.adapters.tiers import MongoTierThresholds
from crm_customer.service.migration import normalise_customer

log = logging.getLogger(__name__)
BATCH = 500


async def pending_derived(db: AsyncDatabase[Document]) -> bool:
    """True while some customer is not at ``DERIVED_VERSION``."""
    found = await CrossTenant(db)[CUSTOMERS].find_one(
        {"derived_version": {"$ne": DERIVED_VERSION}}, projection={"_id": 1}
    )
    return found is not None


async def migrate_derived(db: AsyncDatabase[Document], notify_outbox: Callable[[], None]) -> int:
    """Normalise every customer of every tenant not at ``DERIVED_VERSION``; how many."""
    # Cross-tenant on purpose: a startup migration over all tenants (each write below goes
    # through the tenant's own repository).
    customers = CrossTenant(db)[CUSTOMERS]
    done = 0
    while True:
        cursor = customers.find(
            {"derived_version": {"$ne": DERIVED_VERSION}},
            projection={"tenant_id": 1},
            limit=BATCH,
        )
        pending = [(doc["tenant_id"], doc["_id"]) async for doc in cursor]
        if not pending:
            break
        written = 0
        for tenant_id, customer_id in pending:
            thresholds = await MongoTierThresholds(db, tenant_id).get()
            repo = MongoCustomerRepository(db, tenant_id)
            if await normalise_customer(repo, thresholds, customer_id, notify_outbox):
                written += 1
        done += written
        if written == 0:
            break  # nothing could be written (all lost races): the next start tries again
    if done:
        log.info("normalised %d customers to derived version %d", done, DERIVED_VERSION)
    return done
