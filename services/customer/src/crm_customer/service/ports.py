"""What the use cases need from storage (implemented in ``adapters``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from crm_common.events.envelope import CloudEvent
from crm_common.pagination import Page, PageRequest
from crm_customer.domain.customer import Customer
from crm_customer.domain.permissions import Visibility


class CustomerRepository(Protocol):
    tenant_id: str

    async def next_number_sequence(self, day: date) -> int: ...

    async def find_by_name_key(self, name_key: str) -> Customer | None: ...

    async def add(self, customer: Customer, name_key: str, events: Sequence[CloudEvent]) -> None:
        """Store the customer and its events in one write; `Conflict` if the name is taken."""

    async def get_many(self, ids: Sequence[str], visibility: Visibility) -> dict[str, Customer]: ...

    async def list(
        self,
        filter_input: Any,
        order_field: str,
        descending: bool,
        page: PageRequest,
        visibility: Visibility,
    ) -> Page[Customer]: ...


class CustomerServices(Protocol):
    """What the API layer gets from the composition root: use cases for a principal."""

    def customers(self, principal: Any) -> Any: ...
