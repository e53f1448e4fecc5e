"""How resolver exceptions reach clients: safe message, a code to act on, nothing internal."""

from __future__ import annotations

from graphql import GraphQLError
from pymongo.errors import ServerSelectionTimeoutError

from crm_common.errors import NotFound
from crm_common.graphql.errors import format_error


def _raised(original: Exception) -> GraphQLError:
    return GraphQLError(str(original), path=["createCustomer"], original_error=original)


def test_a_database_outage_is_service_unavailable_without_details() -> None:
    formatted = format_error(
        _raised(ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused"))
    )
    assert formatted["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert "127.0.0.1" not in formatted["message"]
    assert formatted["path"] == ["createCustomer"]


def test_an_unexpected_error_is_masked_as_internal() -> None:
    formatted = format_error(_raised(KeyError("secret_column")))
    assert formatted == {
        "message": "Internal server error",
        "path": ["createCustomer"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }


def test_a_crm_error_keeps_its_message_code_and_field() -> None:
    formatted = format_error(_raised(NotFound("customer not found", field="input.customerId")))
    assert formatted["message"] == "customer not found"
    assert formatted["extensions"]["code"] == "NOT_FOUND"
    assert formatted["extensions"]["field"] == "input.customerId"
