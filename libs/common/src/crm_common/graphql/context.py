"""Per-request GraphQL context: who is calling, and request-scoped DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiohttp import web
from strawberry.dataloader import DataLoader

from crm_common.auth import Principal
from crm_common.errors import Unauthenticated

ServicesT = TypeVar("ServicesT")


@dataclass
class RequestContext(Generic[ServicesT]):
    """What every resolver receives as ``info.context``.

    ``services`` is the service's composition root (its use cases). Loaders live for one request
    only, so batching never mixes tenants or leaks data between callers.
    """

    request: web.Request
    response: web.StreamResponse | None
    principal: Principal | None
    services: ServicesT
    loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated("a valid bearer token is required")
        return self.principal

    def loader(self, name: str, factory: Any) -> DataLoader[Any, Any]:
        """The request's loader called ``name``, created on first use by ``factory()``."""
        existing = self.loaders.get(name)
        if existing is None:
            existing = self.loaders[name] = factory()
        return existing
