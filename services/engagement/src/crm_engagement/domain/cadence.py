"""The customer's follow-up cadence (owned by the customer service, `crm.customer.
cadence_changed`) applied to engagement's follow-up interval. Pure.

INTENSIVE (high fit, proactive customer) halves the priority's interval (at least a day);
OBSERVATION (the observation period, 观察期: low fit or no decision progress) doubles it (at
most a year); NORMAL, or no cadence heard of yet, keeps it. docs/architecture.md, "Stage
assessment and the observation period".
"""

from __future__ import annotations

from datetime import timedelta

INTENSIVE = "INTENSIVE"
OBSERVATION = "OBSERVATION"
_DAY = timedelta(days=1)
_YEAR = timedelta(days=365)


def cadence_interval(interval: timedelta, cadence: str | None) -> timedelta:
    """The priority's interval adapted to the customer's cadence."""
    if cadence == INTENSIVE:
        return max(_DAY, interval / 2)
    if cadence == OBSERVATION:
        return min(_YEAR, interval * 2)
    return interval
