"""Request-scoped DataLoaders: one database round trip per batch of customers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from crm_common.pagination import Page
from crm_engagement.api.context import principal_of, services_of
from crm_engagement.domain.activity import Activity
from crm_engagement.domain.interaction import Interaction


def last_interaction_loader(info: strawberry.Info) -> DataLoader[str, datetime | None]:
    def factory() -> DataLoader[str, datetime | None]:
        service = services_of(info).interactions(principal_of(info))

        async def load(ids: Sequence[str]) -> list[datetime | None]:
            found = await service.last_interaction_times(ids)
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    loader: DataLoader[str, datetime | None] = info.context.loader("last_interaction", factory)
    return loader


def first_interactions_loader(
    info: strawberry.Info, size: int
) -> DataLoader[str, Page[Interaction]]:
    """The first ``size`` interactions of each customer of the batch: one count for the batch,
    then at most ``size + 1`` interactions read per customer (never all of them)."""

    def factory() -> DataLoader[str, Page[Interaction]]:
        service = services_of(info).interactions(principal_of(info))

        async def load(ids: Sequence[str]) -> list[Page[Interaction]]:
            pages = await service.first_pages(ids, size)
            return [pages[i] for i in ids]

        return DataLoader(load_fn=load)

    loader: DataLoader[str, Page[Interaction]] = info.context.loader(
        f"first_interactions:{size}", factory
    )
    return loader


def activity_loader(info: strawberry.Info) -> DataLoader[str, Activity | None]:
    def factory() -> DataLoader[str, Activity | None]:
        service = services_of(info).activities(principal_of(info))

        async def load(ids: Sequence[str]) -> list[Activity | None]:
            found = await service.get_many(list(ids))
            return [found.get(i) for i in ids]

        return DataLoader(load_fn=load)

    loader: DataLoader[str, Activity | None] = info.context.loader("activity", factory)
    return loader
