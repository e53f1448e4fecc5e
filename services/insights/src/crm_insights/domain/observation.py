"""The observation-period report (观察期): customers in observation per team and reason. Pure.

The customer fact carries the cadence the customer service last announced
(``crm.customer.cadence_changed``, applied under the "cadence" guard: a late older event does
not override a newer one); the report counts the live customers whose cadence is OBSERVATION.
It is the state now: the report filter's time range does not apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OBSERVATION = "OBSERVATION"
NO_TEAM = ""


@dataclass(frozen=True, slots=True)
class ObservationCount:
    team: str | None
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class ObservationReport:
    total: int
    rows: tuple[ObservationCount, ...]


def observation_report(facts: Iterable[Mapping[str, Any]]) -> ObservationReport:
    """Count customer facts (already narrowed to OBSERVATION) per team and reason; rows by
    count, then team and reason."""
    counts: Counter[tuple[str, str]] = Counter(
        (f.get("team") or NO_TEAM, f.get("cadence_reason") or "UNKNOWN") for f in facts
    )
    rows = sorted(
        (ObservationCount(team or None, reason, n) for (team, reason), n in counts.items()),
        key=lambda r: (-r.count, r.team or "", r.reason),
    )
    return ObservationReport(total=sum(counts.values()), rows=tuple(rows))
