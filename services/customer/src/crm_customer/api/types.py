"""GraphQL types of the customer subgraph."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from crm_common.graphql.filters import (
    DateTimeFilter,
    EnumFilter,
    IDFilter,
    StringFilter,
    StringListFilter,
)
from crm_customer.domain.customer import (
    Customer as CustomerModel,
)
from crm_customer.domain.customer import (
    CustomerStatus as CustomerStatusModel,
)
from crm_customer.domain.customer import (
    CustomerType as CustomerTypeModel,
)
from crm_customer.domain.customer import (
    SourceChannel as SourceChannelModel,
)

CustomerStatus = strawberry.enum(
    CustomerStatusModel,
    description="Where the customer is in review and lifecycle.",
)
CustomerType = strawberry.enum(
    CustomerTypeModel, description="Commercial relationship with the customer."
)
SourceChannel = strawberry.enum(SourceChannelModel, description="How the customer found us.")


@strawberry.type(description="Province and city of the customer's registered address.")
class Region:
    province: str
    city: str | None


@strawberry.federation.type(keys=["id"], description="A customer company: the unified profile.")
class Customer:
    id: strawberry.ID
    number: str = strawberry.field(
        description="CUS + yyyyMMdd + daily sequence, e.g. CUS20261123001"
    )
    name: str
    status: CustomerStatus  # type: ignore[valid-type]
    customer_type: CustomerType  # type: ignore[valid-type]
    industry: str | None
    source: SourceChannel | None  # type: ignore[valid-type]
    region: Region | None
    tags: list[str]
    owner_id: strawberry.ID
    team: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Customer | None:
        from crm_customer.api.loaders import customer_loader

        return await customer_loader(info).load(str(id))

    @classmethod
    def from_model(cls, model: CustomerModel) -> Customer:
        return cls(
            id=strawberry.ID(model.id),
            number=model.number,
            name=model.name,
            status=model.status,
            customer_type=model.customer_type,
            industry=model.industry,
            source=model.source,
            region=Region(province=model.region.province, city=model.region.city)
            if model.region
            else None,
            tags=list(model.tags),
            owner_id=strawberry.ID(model.owner_id),
            team=model.team,
            created_at=model.created_at,
            updated_at=model.updated_at,
        )


@strawberry.input(description="Which customers to list; all given conditions must hold.")
class CustomerFilter:
    and_: list[CustomerFilter] | None = strawberry.field(default=None, name="and")
    or_: list[CustomerFilter] | None = strawberry.field(default=None, name="or")
    not_: CustomerFilter | None = strawberry.field(default=None, name="not")
    id: IDFilter | None = None
    number: StringFilter | None = None
    name: StringFilter | None = None
    status: EnumFilter[CustomerStatusModel] | None = None
    customer_type: EnumFilter[CustomerTypeModel] | None = None
    industry: StringFilter | None = None
    source: EnumFilter[SourceChannelModel] | None = None
    province: StringFilter | None = None
    city: StringFilter | None = None
    owner_id: IDFilter | None = None
    team: StringFilter | None = None
    tags: StringListFilter | None = None
    created_at: DateTimeFilter | None = None
    updated_at: DateTimeFilter | None = None


class CustomerOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    NUMBER = "number"


strawberry.enum(CustomerOrderField, description="Fields customers can be ordered by.")


class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


strawberry.enum(OrderDirection)


@strawberry.input(description="Ordering of a customer list (ties broken by id).")
class CustomerOrderBy:
    field: CustomerOrderField = CustomerOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


@strawberry.input(description="Province and city.")
class RegionInput:
    province: str
    city: str | None = None


@strawberry.input(description="A new customer; it starts in PENDING_REVIEW.")
class CreateCustomerInput:
    name: str
    industry: str | None = None
    customer_type: CustomerType = CustomerTypeModel.POTENTIAL  # type: ignore[valid-type]
    source: SourceChannel | None = None  # type: ignore[valid-type]
    region: RegionInput | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the caller"
    )


@strawberry.type
class CreateCustomerPayload:
    customer: Customer
