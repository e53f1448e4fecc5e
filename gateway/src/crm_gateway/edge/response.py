"""The answer of one operation before it becomes HTTP: status and JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    status: int
    body: dict[str, Any]


def request_error(status: int, message: str, code: str, **extra: Any) -> GatewayResponse:
    error: dict[str, Any] = {"message": message, "extensions": {"code": code, **extra}}
    return GatewayResponse(status, {"errors": [error]})
