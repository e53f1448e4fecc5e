"""Mongo repository of tickets: every query of the service-desk service lives here."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from crm_common.mongo import Document, TenantRepository
from crm_common.pagination import Page, PageRequest, SortKey
from crm_service_desk.domain.ticket import Ticket, TicketPriority, TicketStatus

TICKETS = "tickets"

INDEXES = {
    TICKETS: [
        IndexModel([("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel(
            [
                ("tenant_id", ASCENDING),
                ("customer_id", ASCENDING),
                ("created_at", DESCENDING),
                ("_id", DESCENDING),
            ]
        ),
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("priority", ASCENDING)]),
    ],
}

_NEWEST_FIRST = [SortKey("created_at", descending=True), SortKey("_id", descending=True)]


def to_document(ticket: Ticket) -> Document:
    return {
        "_id": ticket.id,
        "tenant_id": ticket.tenant_id,
        "customer_id": ticket.customer_id,
        "title": ticket.title,
        "priority": ticket.priority.value,
        "status": ticket.status.value,
        "opened_by": ticket.opened_by,
        "created_at": ticket.created_at,
    }


def from_document(doc: Document) -> Ticket:
    return Ticket(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        customer_id=doc["customer_id"],
        title=doc["title"],
        priority=TicketPriority(doc["priority"]),
        status=TicketStatus(doc["status"]),
        opened_by=doc["opened_by"],
        created_at=doc["created_at"],
    )


class MongoTicketRepository(TenantRepository):
    collection_name = TICKETS

    async def add(self, ticket: Ticket) -> None:
        await self.collection.insert_one(to_document(ticket))

    async def get(self, ticket_id: str) -> Ticket | None:
        doc = await self.collection.find_one(self.scoped({"_id": ticket_id}))
        return from_document(doc) if doc else None

    async def list(self, customer_id: str | None, page: PageRequest) -> Page[Ticket]:
        query: Document = {} if customer_id is None else {"customer_id": customer_id}
        return (await self.paginate(query, _NEWEST_FIRST, page)).map(from_document)
