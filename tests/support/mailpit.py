"""Reading what the suite e-mailed back from Mailpit's HTTP API (scripts/infra.sh starts it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx


class Mailpit:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def messages_to(self, address: str) -> list[dict[str, Any]]:
        """Summaries (ID, Subject, To, Attachments count, MessageID) of the mail to ``address``."""
        answer = httpx.get(
            f"{self.base_url}/api/v1/search",
            params={"query": f'to:"{address}"', "limit": 500},
            timeout=10,
        )
        answer.raise_for_status()
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return [
            m for m in messages if any(t["Address"].lower() == address.lower() for t in m["To"])
        ]

    def message(self, message_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.base_url}/api/v1/message/{message_id}", timeout=10)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def part(self, message_id: str, part_id: str) -> bytes:
        answer = httpx.get(
            f"{self.base_url}/api/v1/message/{message_id}/part/{part_id}", timeout=10
        )
        answer.raise_for_status()
        return answer.content

    def wait_for(self, address: str, count: int = 1, timeout_s: float = 90) -> list[dict[str, Any]]:
        """Polls until ``address`` has at least ``count`` messages (generous bound, no sleeps
        beyond the polling step)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.messages_to(address)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} e-mails to {address} arrived")
            time.sleep(0.2)

    async def await_for(
        self, address: str, count: int = 1, timeout_s: float = 90
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.wait_for, address, count, timeout_s)


def poll(check: Callable[[], Any], timeout_s: float = 90, step_s: float = 0.2) -> Any:
    """``check()`` until it returns something truthy; its last value (or AssertionError)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s (last: {value!r})")
        time.sleep(step_s)
