"""Shaping by graphql-core: run the client operation over the merged raw tree.

This gives the requested field order, ``__typename``, introspection, type resolution and
spec-conform null propagation; `FieldFailure` markers left by failed fetches surface as errors
at exactly their paths. The compiled shaper (`compiled.py`) falls back to this.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    execute,
    extend_schema,
    is_interface_type,
    parse,
    print_type,
)

from crm_gateway.federation.execution.executor import NON_NULL_MESSAGE, ExecutionState, FieldFailure
from crm_gateway.federation.planning.plan import type_alias


def _resolve_field(source: Any, info: GraphQLResolveInfo, **_args: Any) -> Any:
    if not isinstance(source, dict):
        return None
    key = info.path.key
    value = source[key] if key in source else source.get(type_alias(info.parent_type.name, key))  # type: ignore[arg-type]
    if isinstance(value, FieldFailure):
        raise GraphQLError(value.message, extensions=value.extensions())
    return value


def _resolve_type(value: Any, info: GraphQLResolveInfo, abstract: GraphQLAbstractType) -> Any:
    if not isinstance(value, dict):
        return None
    typename = value.get("__typename")
    if (
        isinstance(typename, str)
        and is_interface_type(info.schema.get_type(typename))
        and isinstance(info.context, ExecutionState)
        and tuple(k for k in info.path.as_list() if isinstance(k, str))
        in info.context.interface_object_paths
    ):
        # The interface name from an @interfaceObject subgraph: the planner fetched no
        # concrete type because only interface fields were selected, so any implementation
        # (a placeholder one if the supergraph has none) shapes the same result.
        possible = info.schema.get_possible_types(abstract)
        return possible[0].name if possible else None
    return typename


@functools.lru_cache(maxsize=8)
def _shaping_schema(schema: GraphQLSchema) -> GraphQLSchema:
    """The API schema plus a placeholder implementation for each interface without one.

    Only used to shape responses (never shown to clients): an @interfaceObject subgraph may
    serve an interface whose implementations no subgraph exposes.
    """
    extra: list[str] = []
    for named in schema.type_map.values():
        if (
            is_interface_type(named)
            and not named.name.startswith("__")
            and not schema.get_possible_types(named)  # type: ignore[arg-type]
        ):
            printed = print_type(named)
            body = printed[printed.index("{") :]
            ifaces = " & ".join([named.name, *(i.name for i in named.interfaces)])  # type: ignore[attr-defined]
            extra.append(f"type {PLACEHOLDER_PREFIX}{named.name} implements {ifaces} {body}")
    return extend_schema(schema, parse("\n".join(extra))) if extra else schema


PLACEHOLDER_PREFIX = "_gw_Any"


def _related(a: list[Any], b: list[Any]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def shape_response(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
    state: ExecutionState,
) -> dict[str, Any]:
    """Project the raw tree onto the client operation (order, nulls, errors)."""
    result = execute(
        # Placeholder types only when needed: introspection must not see them.
        _shaping_schema(schema) if state.interface_object_paths else schema,
        document,
        root_value=state.data,
        context_value=state,
        variable_values=variables,
        operation_name=operation_name,
        field_resolver=_resolve_field,
        type_resolver=_resolve_type,
        is_awaitable=lambda _value: False,
    )
    assert not asyncio.iscoroutine(result)
    errors = list(state.errors)
    reported = [e["path"] for e in errors if "path" in e]
    for error in result.errors or ():  # type: ignore[union-attr]
        formatted: dict[str, Any] = dict(error.formatted)
        path = formatted.get("path")
        if (
            error.message.startswith(NON_NULL_MESSAGE)
            and path is not None
            and any(_related(path, p) for p in reported)
        ):
            continue  # the subgraph's own error already explains this null
        if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
            formatted = {
                "message": "Internal server error",
                "path": path,
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        elif "extensions" not in formatted:
            formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
        errors.append(formatted)
    response: dict[str, Any] = {}
    if errors:
        response["errors"] = errors
    response["data"] = result.data  # type: ignore[union-attr]
    return response
