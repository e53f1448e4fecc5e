"""Customer counts per status: the first read model of insights. Pure: no I/O, no framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatusCount:
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class TierCount:
    tier: str
    count: int


@dataclass(frozen=True, slots=True)
class CustomerCounts:
    total: int
    by_status: tuple[StatusCount, ...]
    # Per value tier (A/B/C, 按价值划分); customers whose events carried no tier are left out.
    by_value_tier: tuple[TierCount, ...] = ()


@dataclass(frozen=True, slots=True)
class SeenCustomer:
    """What insights keeps of one customer (from ``crm.customer.created``)."""

    id: str
    tenant_id: str
    status: str


def summarize(counts: Mapping[str, int], tiers: Mapping[str, int] | None = None) -> CustomerCounts:
    """Counts per status and per value tier (empty ones left out, ordered) and their total."""
    by_status = tuple(
        StatusCount(status=status, count=count)
        for status, count in sorted(counts.items())
        if count > 0
    )
    by_tier = tuple(
        TierCount(tier=tier, count=count)
        for tier, count in sorted((tiers or {}).items())
        if count > 0
    )
    return CustomerCounts(
        total=sum(c.count for c in by_status), by_status=by_status, by_value_tier=by_tier
    )
