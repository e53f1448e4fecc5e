"""A graphql-transport-ws client for the e2e tests (aiohttp WebSocket, straight to a subgraph).

Protocol (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md): ``connection_init``
→ ``connection_ack``; ``subscribe`` (id, query) → ``next``* → ``complete`` or ``error``;
``ping``/``pong`` either way. The token travels on the upgrade request, as from the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx

PROTOCOL = "graphql-transport-ws"


class Subscriber:
    """One WebSocket with one subscription; every message it receives is kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self.messages: list[dict[str, Any]] = []
        self.closed = False  # the server closed the socket
        self._reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        try:
            await self._read_messages()
        finally:
            self.closed = True

    async def _read_messages(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if data.get("type") == "ping":
                await self._ws.send_json({"type": "pong"})
                continue
            if data.get("type") == "pong":
                continue
            self.messages.append(data)

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read())

    @property
    def results(self) -> list[dict[str, Any]]:
        """The ``data`` of each ``next`` message."""
        return [m["payload"]["data"] for m in self.messages if m.get("type") == "next"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for m in self.messages:
            if m.get("type") == "error":
                found += m["payload"]
            elif m.get("type") == "next":
                found += m["payload"].get("errors") or []
        return found

    @property
    def completed(self) -> bool:
        return any(m.get("type") in ("complete", "error") for m in self.messages)


@contextlib.asynccontextmanager
async def subscribe(
    url: str, token: str, query: str, variables: dict[str, Any] | None = None
) -> AsyncIterator[Subscriber]:
    """Open a socket to ``url`` (http://host:port/graphql) and start one subscription."""
    ws_url = url.replace("http://", "ws://", 1)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            ws_url,
            protocols=[PROTOCOL],
            headers={"Authorization": f"Bearer {token}"},
            heartbeat=None,
        ) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        ack = await asyncio.wait_for(ws.receive_json(), 30)
        assert ack["type"] == "connection_ack", ack
        await ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        subscriber = Subscriber(ws)
        subscriber.start()
        try:
            yield subscriber
        finally:
            with contextlib.suppress(Exception):
                await ws.send_json({"id": "1", "type": "complete"})
            await ws.close()
            if subscriber._reader is not None:
                subscriber._reader.cancel()
                with contextlib.suppress(BaseException):
                    await subscriber._reader


async def live_listeners(base_url: str) -> float:
    """How many subscriptions the process at ``base_url`` holds (its /metrics gauge)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{base_url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("crm_live_listeners{")
    )
