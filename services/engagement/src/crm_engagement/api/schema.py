"""Root fields of the engagement subgraph."""

from __future__ import annotations

import strawberry

from crm_common.graphql.schema import SubgraphSchema, build_schema
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.api.types import (
    Customer,
    Interaction,
    LogInteractionInput,
    LogInteractionPayload,
)
from crm_engagement.service.interactions import LogInteractionCommand


@strawberry.type
class Query:
    @strawberry.field(description="One interaction by id; null if absent or not yours to see.")
    async def interaction(self, info: strawberry.Info, id: strawberry.ID) -> Interaction | None:
        service = services_of(info).interactions(principal_of(info))
        found = await service.get(str(id))
        return Interaction.from_model(found) if found else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Record a call, visit, email, meeting or chat.")
    async def log_interaction(
        self, info: strawberry.Info, input: LogInteractionInput
    ) -> LogInteractionPayload:
        service = services_of(info).interactions(principal_of(info))
        interaction = await service.log(
            LogInteractionCommand(
                customer_id=str(input.customer_id),
                kind=input.kind,
                content=input.content,
                occurred_at=input.occurred_at,
                feedback=input.feedback,
                objections=input.objections,
                next_steps=input.next_steps,
                participants=tuple(input.participants),
            )
        )
        return LogInteractionPayload(interaction=Interaction.from_model(interaction))


def schema() -> SubgraphSchema:
    return build_schema(query=Query, mutation=Mutation, types=[Customer])
