"""Errors a use case can raise, each mapped to one GraphQL ``extensions.code``.

They are plain Python (no GraphQL import) so domain code can raise them; the API layer turns
them into client errors. Any other exception is an internal error and its text never leaves
the process.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # A dependency (the database) is unreachable for the moment; the request changed nothing
    # and may be retried.
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # A customer created a moment ago has not reached this service's copy yet (it learns
    # customers from events); nothing changed and the request may be retried shortly.
    CUSTOMER_NOT_READY = "CUSTOMER_NOT_READY"


class CrmError(Exception):
    """An error whose message is safe to show to the client."""

    code: ErrorCode = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, *, field: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def extensions(self) -> dict[str, object]:
        ext: dict[str, object] = {"code": self.code.value}
        if self.field is not None:
            ext["field"] = self.field
        ext.update(self.details)
        return ext


class Unauthenticated(CrmError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(CrmError):
    code = ErrorCode.FORBIDDEN


class NotFound(CrmError):
    code = ErrorCode.NOT_FOUND


class BadUserInput(CrmError):
    code = ErrorCode.BAD_USER_INPUT


class Conflict(CrmError):
    code = ErrorCode.CONFLICT


class CustomerNotReady(CrmError):
    """The customer is not in this service's copy yet (see `crm_common.customers.copies`)."""

    code = ErrorCode.CUSTOMER_NOT_READY
