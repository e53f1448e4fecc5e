"""The federation schema every subgraph is built with."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from pymongo.errors import ConnectionFailure
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import ExecutionContext

from crm_common.errors import CrmError
from crm_common.graphql.errors import format_error
from crm_common.graphql.relay import PageInfo

log = logging.getLogger(__name__)


class SubgraphSchema(strawberry.federation.Schema):
    """Federation v2 schema that logs only unexpected errors (client errors are not incidents).

    Each error also gets the safe message and ``extensions.code`` of `format_error` written
    onto it: over HTTP the view formats errors itself, but the WebSocket transport
    (subscriptions) sends ``error.formatted`` as it is.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            expected = (
                original is None
                or isinstance(original, CrmError | GraphQLError | ConnectionFailure)
                or type(original).__name__ == "ValidationError"
            )
            if not (error.extensions or {}).get("code"):
                if expected:
                    formatted = format_error(error)
                    error.message = formatted["message"]
                    error.extensions = formatted.get("extensions") or {}
                else:
                    error.message = "Internal server error"
                    error.extensions = {"code": "INTERNAL_SERVER_ERROR"}
            if original is None or isinstance(original, CrmError):
                continue
            if type(original).__name__ == "ValidationError":
                continue
            log.error(
                "resolver raised",
                exc_info=(type(original), original, original.__traceback__),
                extra={"path": error.path},
            )


def build_schema(
    *,
    query: type,
    mutation: type | None = None,
    subscription: type | None = None,
    types: list[Any] | None = None,
    max_depth: int = 15,
    max_aliases: int = 50,
) -> SubgraphSchema:
    """A Federation v2 subgraph schema with depth, alias and size limits on every operation."""
    # Configured instances are what strawberry expects here; its annotation only names classes.
    extensions: list[Any] = [
        QueryDepthLimiter(max_depth=max_depth),
        MaxAliasesLimiter(max_alias_count=max_aliases),
        MaxTokensLimiter(max_token_count=5000),
    ]
    return SubgraphSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        # Every subgraph declares the shared (@shareable) PageInfo. That also guarantees a
        # federation directive is in use, without which strawberry omits the v2 `@link` and
        # composers would read the subgraph as Federation v1.
        types=[PageInfo, *(types or [])],
        extensions=extensions,
    )
