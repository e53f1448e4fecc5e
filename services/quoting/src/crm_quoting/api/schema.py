"""Root fields of the quoting subgraph."""

from __future__ import annotations

import strawberry

from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.pagination import PageRequest
from crm_quoting.api.context import principal_of, services_of
from crm_quoting.api.types import (
    CreateOpportunityInput,
    CreateOpportunityPayload,
    Customer,
    Opportunity,
)
from crm_quoting.service.opportunities import CreateOpportunityCommand


@strawberry.type
class Query:
    @strawberry.field(description="One opportunity by id; null if absent or not yours to see.")
    async def opportunity(self, info: strawberry.Info, id: strawberry.ID) -> Opportunity | None:
        service = services_of(info).opportunities(principal_of(info))
        found = await service.get(str(id))
        return Opportunity.from_model(found) if found else None

    @strawberry.field(description="Opportunities you may see, newest first.")
    async def opportunities(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        customer_id: strawberry.ID | None = None,
    ) -> Connection[Opportunity]:
        service = services_of(info).opportunities(principal_of(info))
        page = await service.list(
            str(customer_id) if customer_id is not None else None,
            PageRequest(first=first, after=after),
        )
        return to_connection(page, Opportunity.from_model)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Open an opportunity with a customer; you become its owner.")
    async def create_opportunity(
        self, info: strawberry.Info, input: CreateOpportunityInput
    ) -> CreateOpportunityPayload:
        service = services_of(info).opportunities(principal_of(info))
        opportunity = await service.create(
            CreateOpportunityCommand(customer_id=str(input.customer_id), name=input.name)
        )
        return CreateOpportunityPayload(opportunity=Opportunity.from_model(opportunity))


def schema() -> SubgraphSchema:
    return build_schema(query=Query, mutation=Mutation, types=[Customer])
