"""Quoting's own reaction to the customer service's events (the customer copy itself is kept by
`crm_common.customers.copies`, wired in ``adapters/events.py``): after a merge, the merged
customer's opportunities and quotes belong to the kept one. Applying it again moves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from crm_common.events.contracts.customer import CustomerMerged
from crm_common.events.envelope import CloudEvent
from crm_quoting.service.ports import CustomerRecords

log = logging.getLogger(__name__)


class CustomerReactions:
    def __init__(self, records: Callable[[str], CustomerRecords]) -> None:
        self._records = records

    async def customer_merged(self, event: CloudEvent, payload: CustomerMerged) -> None:
        """The merged customer's opportunities and quotes now belong to the kept one."""
        moved = await self._records(event.tenant_id).repoint(payload.merged_id, payload.kept_id)
        log.info(
            "customer merged; records re-pointed",
            extra={"kept": payload.kept_id, "merged": payload.merged_id, "moved": moved},
        )
