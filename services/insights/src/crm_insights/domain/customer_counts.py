"""Customer counts per status: the first read model of insights. Pure: no I/O, no framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatusCount:
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class CustomerCounts:
    total: int
    by_status: tuple[StatusCount, ...]


@dataclass(frozen=True, slots=True)
class SeenCustomer:
    """What insights keeps of one customer (from ``crm.customer.created``)."""

    id: str
    tenant_id: str
    status: str


def summarize(counts: Mapping[str, int]) -> CustomerCounts:
    """Counts per status (empty ones left out, ordered by status) and their total."""
    by_status = tuple(
        StatusCount(status=status, count=count)
        for status, count in sorted(counts.items())
        if count > 0
    )
    return CustomerCounts(total=sum(c.count for c in by_status), by_status=by_status)
