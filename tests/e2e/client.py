"""A small GraphQL client for the e2e tests (talks HTTP to the real gateway)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from crm_common.auth import issue_dev_token, load_or_create_dev_secret

T = TypeVar("T")


@dataclass
class GraphQLResponse:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.body.get("errors") or []
        return errors

    def error_codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def ok(self) -> Any:
        assert self.status == 200, f"HTTP {self.status}: {self.body}"
        assert not self.errors, self.errors
        return self.data


class GraphQLClient:
    # Longer than the e2e gateway's request budget (conftest.py): a busy machine is slow, and
    # the gateway's answer says more than the client's own timeout.
    def __init__(self, url: str, token: str | None, timeout_s: float = 180) -> None:
        self.url = url
        self.token = token
        self.timeout_s = timeout_s

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> GraphQLResponse:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            response = await http.post(
                self.url, json={"query": query, "variables": variables or {}}, headers=all_headers
            )
        return GraphQLResponse(response.status_code, response.json())


def token_for(
    var_dir: Any, tenant: str, roles: list[str], user_id: str | None = None, team: str | None = None
) -> str:
    secret = load_or_create_dev_secret(var_dir / "dev-jwt-secret")
    return issue_dev_token(
        secret,
        tenant=tenant,
        roles=roles,
        user_id=user_id or f"user-{uuid.uuid4().hex[:8]}",
        team=team,
    )


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout_s: float = 30, interval_s: float = 0.1
) -> T:
    """Poll until ``probe`` returns something truthy (events between services take a moment)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)
