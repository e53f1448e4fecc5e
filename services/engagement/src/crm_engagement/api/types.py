"""GraphQL types of the engagement subgraph."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm_common.graphql.relay import Connection, to_connection
from crm_common.pagination import PageRequest
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.domain.interaction import Interaction as InteractionModel
from crm_engagement.domain.interaction import InteractionKind as InteractionKindModel

InteractionKind = strawberry.enum(InteractionKindModel, description="How the customer was reached.")


@strawberry.type(description="One touch with a customer: a call, visit, email, meeting or chat.")
class Interaction:
    id: strawberry.ID
    customer_id: strawberry.ID
    kind: InteractionKind  # type: ignore[valid-type]
    occurred_at: datetime
    content: str
    feedback: str | None = strawberry.field(description="What the customer said back")
    objections: str | None
    next_steps: str | None = strawberry.field(description="What was agreed to do next")
    participants: list[str]
    owner_id: strawberry.ID = strawberry.field(description="Who logged it")
    created_at: datetime

    @classmethod
    def from_model(cls, model: InteractionModel) -> Interaction:
        return cls(
            id=strawberry.ID(model.id),
            customer_id=strawberry.ID(model.customer_id),
            kind=model.kind,
            occurred_at=model.occurred_at,
            content=model.content,
            feedback=model.feedback,
            objections=model.objections,
            next_steps=model.next_steps,
            participants=list(model.participants),
            owner_id=strawberry.ID(model.owner_id),
            created_at=model.created_at,
        )


@strawberry.federation.type(keys=["id"], description="A customer, as engagement sees it.")
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Customer:
        # Nothing to load: the fields below read by customer id and check access themselves.
        return cls(id=id)

    @strawberry.field(description="Interactions with this customer, newest first.")
    async def interactions(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Interaction]:
        service = services_of(info).interactions(principal_of(info))
        page = await service.for_customer(str(self.id), PageRequest(first=first, after=after))
        return to_connection(page, Interaction.from_model)


@strawberry.input(description="A touch with a customer to record.")
class LogInteractionInput:
    customer_id: strawberry.ID
    kind: InteractionKind  # type: ignore[valid-type]
    content: str
    occurred_at: datetime | None = strawberry.field(default=None, description="Defaults to now")
    feedback: str | None = None
    objections: str | None = None
    next_steps: str | None = None
    participants: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class LogInteractionPayload:
    interaction: Interaction
