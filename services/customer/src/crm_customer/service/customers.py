"""Customer use cases: register, read one or many, list."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_common.auth import Principal
from crm_common.clock import utc_now
from crm_common.errors import Conflict
from crm_common.events.contracts.customer import CustomerCreated
from crm_common.events.outbox import new_event
from crm_common.pagination import Page, PageRequest
from crm_customer.domain.customer import (
    Customer,
    CustomerStatus,
    CustomerType,
    Region,
    SourceChannel,
    customer_number,
    validate_new_customer,
)
from crm_customer.domain.permissions import can_create, visibility
from crm_customer.service.ports import CustomerRepository

EVENT_SOURCE = "crm/customer"


@dataclass(frozen=True, slots=True)
class CreateCustomerCommand:
    name: str
    industry: str | None = None
    customer_type: CustomerType = CustomerType.POTENTIAL
    source: SourceChannel | None = None
    region: Region | None = None
    tags: tuple[str, ...] = ()
    owner_id: str | None = None


class CustomerService:
    """Use cases for one request's principal; the repository is bound to its tenant."""

    def __init__(
        self,
        principal: Principal,
        repository: CustomerRepository,
        notify_outbox: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._principal = principal
        self._repo = repository
        self._notify_outbox = notify_outbox
        self._clock = clock

    async def create(self, command: CreateCustomerCommand) -> Customer:
        principal = self._principal
        can_create(principal)
        new = validate_new_customer(
            name=command.name,
            owner_id=command.owner_id or principal.user_id,
            team=principal.team,
            industry=command.industry,
            customer_type=command.customer_type,
            source=command.source,
            region=command.region,
            tags=list(command.tags),
        )
        existing = await self._repo.find_by_name_key(new.name_key)
        if existing is not None:
            raise name_conflict(existing)
        now = self._clock()
        sequence = await self._repo.next_number_sequence(now.date())
        customer = Customer(
            id=str(uuid.uuid4()),
            tenant_id=principal.tenant_id,
            number=customer_number(now.date(), sequence),
            name=new.name,
            status=CustomerStatus.PENDING_REVIEW,
            customer_type=new.customer_type,
            owner_id=new.owner_id,
            team=new.team,
            industry=new.industry,
            source=new.source,
            region=new.region,
            tags=new.tags,
            created_at=now,
            updated_at=now,
        )
        event = new_event(
            CustomerCreated(
                customer_id=customer.id,
                number=customer.number,
                name=customer.name,
                status=customer.status.value,
                owner_id=customer.owner_id,
                team=customer.team,
                created_at=customer.created_at,
            ),
            source=EVENT_SOURCE,
            tenant_id=principal.tenant_id,
            key=customer.id,
        )
        await self._repo.add(customer, new.name_key, [event])
        self._notify_outbox()
        return customer

    async def get_many(self, ids: Sequence[str]) -> dict[str, Customer]:
        return await self._repo.get_many(ids, visibility(self._principal))

    async def list(
        self, filter_input: Any, order_field: str, descending: bool, page: PageRequest
    ) -> Page[Customer]:
        return await self._repo.list(
            filter_input, order_field, descending, page, visibility(self._principal)
        )


def name_conflict(existing: Customer) -> Conflict:
    return Conflict(
        f"a customer with this name already exists: {existing.number} {existing.name}",
        field="input.name",
        existingCustomerId=existing.id,
        existingCustomerNumber=existing.number,
    )
