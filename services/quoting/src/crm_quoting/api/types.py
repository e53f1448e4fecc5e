"""GraphQL types of the quoting subgraph."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_quoting.api.context import principal_of, services_of
from crm_quoting.domain.opportunity import Opportunity as OpportunityModel
from crm_quoting.domain.opportunity import OpportunityStage as OpportunityStageModel

OpportunityStage = strawberry.enum(
    OpportunityStageModel, description="Where an opportunity is in the sales pipeline."
)


@strawberry.type(description="A chance to sell to a customer, tracked through the pipeline.")
class Opportunity:
    id: strawberry.ID
    customer_id: strawberry.ID
    name: str
    stage: OpportunityStage  # type: ignore[valid-type]
    owner_id: strawberry.ID = strawberry.field(description="The sales rep who owns it")
    created_at: datetime

    @classmethod
    def from_model(cls, model: OpportunityModel) -> Opportunity:
        return cls(
            id=strawberry.ID(model.id),
            customer_id=strawberry.ID(model.customer_id),
            name=model.name,
            stage=model.stage,
            owner_id=strawberry.ID(model.owner_id),
            created_at=model.created_at,
        )


@strawberry.federation.type(keys=["id"], description="A customer, as quoting sees it.")
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        # Nothing to load: the fields below read by customer id and check access themselves.
        return cls(id=id)

    @strawberry.field(description="Opportunities with this customer you may see, newest first.")
    async def opportunities(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Opportunity]:
        service = services_of(info).opportunities(principal_of(info))
        page = await service.list(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, Opportunity.from_model)


@strawberry.input(description="An opportunity to open; it starts at INITIAL_CONTACT.")
class CreateOpportunityInput:
    customer_id: strawberry.ID
    name: str = strawberry.field(description="1 to 200 characters")


@strawberry.type
class CreateOpportunityPayload:
    opportunity: Opportunity
