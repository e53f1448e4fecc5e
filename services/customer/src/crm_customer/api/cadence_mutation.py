"""``setEngagementCadence``: a person's decision on a customer's follow-up cadence."""

from __future__ import annotations

import strawberry

from crm_customer.api.cadence import EngagementCadence
from crm_customer.api.context import principal_of, services_of
from crm_customer.api.types import Customer
from crm_customer.domain.cadence import Cadence as CadenceModel


@strawberry.input(description="Change a customer's follow-up cadence by hand, with a reason.")
class SetEngagementCadenceInput:
    customer_id: strawberry.ID = strawberry.field(description="Id of the customer.")
    cadence: EngagementCadence = strawberry.field(  # type: ignore[valid-type]
        description="The cadence from now on (OBSERVATION puts the customer in the "
        "observation period; INTENSIVE or NORMAL takes it out)."
    )
    reason: str = strawberry.field(
        description="Why (required, at most 500 characters); kept in the cadence history."
    )


@strawberry.type(description="The customer after the change.")
class SetEngagementCadencePayload:
    customer: Customer = strawberry.field(
        description="The customer; engagementCadence and cadenceHistory show the change."
    )


async def set_engagement_cadence(
    info: strawberry.Info, input: SetEngagementCadenceInput
) -> SetEngagementCadencePayload:
    service = services_of(info).cadence(principal_of(info))
    customer = await service.set_manually(
        str(input.customer_id), CadenceModel(input.cadence), input.reason
    )
    return SetEngagementCadencePayload(customer=Customer.from_model(customer))


SET_CADENCE_DESCRIPTION = (
    "Change a customer's follow-up cadence by hand (e.g. end or start its observation "
    "period), with a reason; audited in cadenceHistory and announced as cadence_changed."
)
