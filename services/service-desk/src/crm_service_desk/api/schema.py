"""Root fields of the service-desk subgraph."""

from __future__ import annotations

import strawberry

from crm_common.graphql.relay import Connection, to_connection
from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_common.pagination import PageRequest
from crm_service_desk.api.context import principal_of, services_of
from crm_service_desk.api.types import Customer, OpenTicketInput, OpenTicketPayload, Ticket
from crm_service_desk.service.tickets import OpenTicketCommand


@strawberry.type
class Query:
    @strawberry.field(description="One ticket by id; null if absent.")
    async def ticket(self, info: strawberry.Info, id: strawberry.ID) -> Ticket | None:
        service = services_of(info).tickets(principal_of(info))
        found = await service.get(str(id))
        return Ticket.from_model(found) if found else None

    @strawberry.field(description="The tenant's tickets, newest first.")
    async def tickets(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        customer_id: strawberry.ID | None = None,
    ) -> Connection[Ticket]:
        service = services_of(info).tickets(principal_of(info))
        page = await service.list(
            str(customer_id) if customer_id is not None else None,
            PageRequest(first=first, after=after),
        )
        return to_connection(page, Ticket.from_model)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Open a ticket for a customer (priority MEDIUM by default).")
    async def open_ticket(self, info: strawberry.Info, input: OpenTicketInput) -> OpenTicketPayload:
        service = services_of(info).tickets(principal_of(info))
        ticket = await service.open(
            OpenTicketCommand(
                customer_id=str(input.customer_id), title=input.title, priority=input.priority
            )
        )
        return OpenTicketPayload(ticket=Ticket.from_model(ticket))


def schema() -> SubgraphSchema:
    return build_schema(query=Query, mutation=Mutation, types=[Customer])
