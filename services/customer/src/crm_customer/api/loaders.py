"""Request-scoped DataLoaders: one database round trip per batch of keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import strawberry
from strawberry.dataloader import DataLoader

from crm_customer.api.context import services_of
from crm_customer.domain.custom_fields import CustomFieldDefinition

if TYPE_CHECKING:
    from crm_customer.api.types import Customer


def customer_loader(info: strawberry.Info) -> DataLoader[str, Customer | None]:
    """Customers by id as the caller may see them (others load as null)."""
    from crm_customer.api.types import Customer

    context = info.context

    def factory() -> DataLoader[str, Customer | None]:
        service = services_of(info).customers(context.require_principal())

        async def load(ids: Sequence[str]) -> list[Customer | None]:
            found = await service.get_many(ids)
            return [Customer.from_model(found[i]) if i in found else None for i in ids]

        return DataLoader(load_fn=load)

    loader: DataLoader[str, Customer | None] = context.loader("customer", factory)
    return loader


async def custom_field_definitions(info: strawberry.Info) -> dict[str, CustomFieldDefinition]:
    """The tenant's custom field definitions, read once per request."""
    context = info.context

    def factory() -> DataLoader[str, dict[str, CustomFieldDefinition]]:
        service = services_of(info).customers(context.require_principal())

        async def load(keys: Sequence[str]) -> list[dict[str, CustomFieldDefinition]]:
            definitions = await service.custom_field_definitions_by_key()
            return [definitions for _ in keys]

        return DataLoader(load_fn=load)

    loader: DataLoader[str, dict[str, CustomFieldDefinition]] = context.loader(
        "custom_field_definitions", factory
    )
    return await loader.load("all")
