"""Value tiers (按价值划分): A/B/C from deal revenue and potential. Pure.

- **Deal revenue**: the sum of the customer's accepted quotes (integer minor units).
- **Potential**: the upper bound of the customer's budget range (``budget.max_minor``), the
  estimate of what the customer can spend; 0 if no budget is recorded.

A customer is **A** if its deal revenue reaches ``a_revenue_minor`` or its potential reaches
``a_potential_minor``; otherwise **B** if either reaches the B thresholds; otherwise **C**.
Amounts are compared in minor units whatever their currency (a tenant works in one).
The defaults (CNY): A from 1,000,000 revenue or 5,000,000 potential; B from 100,000 revenue
or 500,000 potential. An admin changes them per tenant (`setValueTierThresholds`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from crm_common.errors import BadUserInput
from crm_customer.domain.customer import Customer, ValueTier, type_for

MAX_AMOUNT_MINOR = 10**17


@dataclass(frozen=True, slots=True)
class TierThresholds:
    a_revenue_minor: int = 100_000_000  # 1,000,000.00
    a_potential_minor: int = 500_000_000  # 5,000,000.00
    b_revenue_minor: int = 10_000_000  # 100,000.00
    b_potential_minor: int = 50_000_000  # 500,000.00


DEFAULT_THRESHOLDS = TierThresholds()


def clean_thresholds(thresholds: TierThresholds) -> TierThresholds:
    """Refuse negative amounts and B thresholds above the A ones (A must be the higher tier)."""
    for name in ("a_revenue_minor", "a_potential_minor", "b_revenue_minor", "b_potential_minor"):
        value = getattr(thresholds, name)
        if not 0 < value <= MAX_AMOUNT_MINOR:
            camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
            raise BadUserInput(
                f"{camel} must be a positive amount in minor units", field=f"input.{camel}"
            )
    if thresholds.b_revenue_minor > thresholds.a_revenue_minor:
        raise BadUserInput(
            "the B revenue threshold must not be above the A one", field="input.bRevenueMinor"
        )
    if thresholds.b_potential_minor > thresholds.a_potential_minor:
        raise BadUserInput(
            "the B potential threshold must not be above the A one",
            field="input.bPotentialMinor",
        )
    return thresholds


def potential_minor(customer: Customer) -> int:
    budget = customer.profile.budget
    return budget.max_minor if budget is not None else 0


def tier_for(revenue_minor: int, potential: int, thresholds: TierThresholds) -> ValueTier:
    if revenue_minor >= thresholds.a_revenue_minor or potential >= thresholds.a_potential_minor:
        return ValueTier.A
    if revenue_minor >= thresholds.b_revenue_minor or potential >= thresholds.b_potential_minor:
        return ValueTier.B
    return ValueTier.C


def with_derived(customer: Customer, thresholds: TierThresholds) -> Customer:
    """The customer with what follows from its other fields: the type from the lifecycle
    status, the value tier from revenue, potential and the tenant's thresholds."""
    profile = customer.profile
    kind = type_for(customer.status, profile.customer_type)
    tier = tier_for(customer.deal_revenue_minor, potential_minor(customer), thresholds)
    if kind == profile.customer_type and tier == customer.value_tier:
        return customer
    return dataclasses.replace(
        customer,
        profile=dataclasses.replace(profile, customer_type=kind),
        value_tier=tier,
    )
