"""Turns any error raised while executing an operation into a safe client error."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from crm_common.errors import CrmError, ErrorCode

log = logging.getLogger(__name__)


def _pydantic_field(exc: ValidationError) -> str | None:
    errors = exc.errors()
    if not errors:
        return None
    return ".".join(str(part) for part in errors[0].get("loc", ())) or None


def format_error(error: GraphQLError) -> dict[str, Any]:
    """The JSON form of one error: message, locations, path and ``extensions.code``."""
    original = error.original_error
    formatted: dict[str, Any] = {"message": error.message}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    if error.path:
        formatted["path"] = list(error.path)

    if isinstance(original, CrmError):
        formatted["message"] = original.message
        formatted["extensions"] = original.extensions()
    elif isinstance(original, ValidationError):
        first = original.errors()[0] if original.errors() else {"msg": "invalid input"}
        formatted["message"] = f"invalid input: {first.get('msg')}"
        formatted["extensions"] = {
            "code": ErrorCode.BAD_USER_INPUT.value,
            "field": _pydantic_field(original),
        }
    elif original is None:
        # Parse and validation errors (and errors graphql-core raises for bad variables):
        # the client sent something the schema does not accept.
        formatted["extensions"] = {"code": "GRAPHQL_VALIDATION_FAILED"}
        if error.extensions and "code" in error.extensions:
            formatted["extensions"] = dict(error.extensions)
        elif "Variable" in error.message or "Expected value" in error.message:
            formatted["extensions"] = {"code": ErrorCode.BAD_USER_INPUT.value}
    elif isinstance(original, GraphQLError):
        # graphql-core rejecting a variable's value (a scalar that cannot represent it): the
        # message names the variable and why, nothing internal.
        formatted["extensions"] = {"code": ErrorCode.BAD_USER_INPUT.value}
    elif isinstance(original, ConnectionFailure):
        # The database is away (restarting, network): say so, so clients retry; no detail.
        log.warning("database unavailable", extra={"path": formatted.get("path")})
        formatted["message"] = "The database is unavailable; retry shortly"
        formatted["extensions"] = {"code": ErrorCode.SERVICE_UNAVAILABLE.value}
    else:
        log.error(
            "unhandled error in resolver",
            exc_info=(type(original), original, original.__traceback__),
            extra={"path": formatted.get("path")},
        )
        formatted["message"] = "Internal server error"
        formatted["extensions"] = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value}
    return formatted
