"""Opportunities and their rules. Pure: no I/O, no framework."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput

NAME_MAX = 200


class OpportunityStage(StrEnum):
    INITIAL_CONTACT = "INITIAL_CONTACT"
    NEEDS_ANALYSIS = "NEEDS_ANALYSIS"
    SOLUTION = "SOLUTION"
    QUOTE = "QUOTE"
    NEGOTIATION = "NEGOTIATION"
    WON = "WON"
    LOST = "LOST"

    @property
    def is_closed(self) -> bool:
        return self in (OpportunityStage.WON, OpportunityStage.LOST)


INITIAL_STAGE = OpportunityStage.INITIAL_CONTACT


@dataclass(frozen=True, slots=True)
class Opportunity:
    id: str
    tenant_id: str
    customer_id: str
    name: str
    stage: OpportunityStage
    owner_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewOpportunity:
    """A validated request to open an opportunity."""

    customer_id: str
    name: str


def validate_new_opportunity(*, customer_id: str, name: str) -> NewOpportunity:
    """Check a new opportunity; the first problem is raised with the input field it concerns."""
    clean_customer = customer_id.strip()
    if not clean_customer:
        raise BadUserInput("customerId must not be empty", field="input.customerId")
    clean_name = re.sub(r"\s+", " ", name).strip()
    if not clean_name:
        raise BadUserInput("name must not be empty", field="input.name")
    if len(clean_name) > NAME_MAX:
        raise BadUserInput(f"name is longer than {NAME_MAX} characters", field="input.name")
    return NewOpportunity(customer_id=clean_customer, name=clean_name)
