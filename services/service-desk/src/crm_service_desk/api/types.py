"""GraphQL types of the service-desk subgraph."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_service_desk.api.context import principal_of, services_of
from crm_service_desk.domain.ticket import Ticket as TicketModel
from crm_service_desk.domain.ticket import TicketPriority as TicketPriorityModel
from crm_service_desk.domain.ticket import TicketStatus as TicketStatusModel

TicketPriority = strawberry.enum(TicketPriorityModel, description="How urgent a ticket is.")
TicketStatus = strawberry.enum(TicketStatusModel, description="Where a ticket is in its handling.")


@strawberry.type(description="A customer's request for help, tracked until it is closed.")
class Ticket:
    id: strawberry.ID
    customer_id: strawberry.ID
    title: str
    priority: TicketPriority  # type: ignore[valid-type]
    status: TicketStatus  # type: ignore[valid-type]
    opened_by: strawberry.ID = strawberry.field(description="Who opened it")
    created_at: datetime

    @classmethod
    def from_model(cls, model: TicketModel) -> Ticket:
        return cls(
            id=strawberry.ID(model.id),
            customer_id=strawberry.ID(model.customer_id),
            title=model.title,
            priority=model.priority,
            status=model.status,
            opened_by=strawberry.ID(model.opened_by),
            created_at=model.created_at,
        )


@strawberry.federation.type(keys=["id"], description="A customer, as the service desk sees it.")
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        # Nothing to load: the fields below read by customer id and check access themselves.
        return cls(id=id)

    @strawberry.field(description="Tickets of this customer, newest first.")
    async def tickets(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Ticket]:
        service = services_of(info).tickets(principal_of(info))
        page = await service.list(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, Ticket.from_model)


@strawberry.input(description="A ticket to open for a customer; it starts as NEW.")
class OpenTicketInput:
    customer_id: strawberry.ID
    title: str = strawberry.field(description="1 to 200 characters")
    priority: TicketPriority = TicketPriorityModel.MEDIUM  # type: ignore[valid-type]


@strawberry.type
class OpenTicketPayload:
    ticket: Ticket
