"""Root fields of the customer subgraph."""

from __future__ import annotations

import strawberry

from crm_common.errors import BadUserInput
from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.pagination import PageRequest
from crm_customer.api.context import principal_of, services_of
from crm_customer.api.loaders import customer_loader
from crm_customer.api.types import (
    CreateCustomerInput,
    CreateCustomerPayload,
    Customer,
    CustomerFilter,
    CustomerOrderBy,
    OrderDirection,
)
from crm_customer.domain.customer import Region
from crm_customer.service.customers import CreateCustomerCommand


@strawberry.type
class Query:
    @strawberry.field(description="One customer by id; null if it does not exist or is not yours.")
    async def customer(self, info: strawberry.Info, id: strawberry.ID) -> Customer | None:
        principal_of(info)
        return await customer_loader(info).load(str(id))

    @strawberry.field(description="Customers you may see, filtered, ordered and paginated.")
    async def customers(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: CustomerFilter | None = None,
        order_by: CustomerOrderBy | None = None,
    ) -> Connection[Customer]:
        if first is not None and last is not None:
            raise BadUserInput("give either first or last, not both", field="last")
        order = order_by or CustomerOrderBy()
        service = services_of(info).customers(principal_of(info))
        page = await service.list(
            filter,
            order.field.value,
            order.direction == OrderDirection.DESC,
            PageRequest(first=first, after=after, last=last, before=before),
        )
        return to_connection(page, Customer.from_model)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Register a customer; it waits for a manager's review.")
    async def create_customer(
        self, info: strawberry.Info, input: CreateCustomerInput
    ) -> CreateCustomerPayload:
        service = services_of(info).customers(principal_of(info))
        customer = await service.create(
            CreateCustomerCommand(
                name=input.name,
                industry=input.industry,
                customer_type=input.customer_type,
                source=input.source,
                region=Region(input.region.province, input.region.city) if input.region else None,
                tags=tuple(input.tags),
                owner_id=str(input.owner_id) if input.owner_id else None,
            )
        )
        return CreateCustomerPayload(customer=Customer.from_model(customer))


def schema() -> SubgraphSchema:
    return build_schema(query=Query, mutation=Mutation, types=[Customer])
