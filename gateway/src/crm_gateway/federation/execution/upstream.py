"""Subscriptions to subgraphs: one ``graphql-transport-ws`` connection per client subscription.

The gateway opens a WebSocket to the subgraph owning the subscription's root field (a replica
picked by `balancer.py`, like an HTTP fetch; a replica that refuses the connection is
ejected and the next one tried), with the caller's ``Authorization`` and the forwarded headers
on the upgrade request (the subgraph authenticates it exactly as an HTTP request) and in the
``connection_init`` payload. It sends the one ``subscribe`` and yields every ``next`` payload.

A client subscription maps to exactly one subgraph subscription, so with N gateway and N
subgraph replicas every subscriber gets each event of its replica once. Closing the iterator
(the client completed, disconnected, or its token expired) sends ``complete`` and closes the
socket; the subgraph then stops its subscription. The subgraph closing the socket, an ``error``
message, or a missed heartbeat end the iterator with `UpstreamClosed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import aiohttp
import orjson

from crm_gateway.federation.execution.balancer import Replica, ReplicaSet

log = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"
OPERATION_ID = "1"


class UpstreamClosed(Exception):
    """The subgraph subscription ended abnormally; ``errors`` are client-safe GraphQL errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "subscription ended")
        self.errors = errors


def _unavailable(subgraph: str, detail: str) -> UpstreamClosed:
    log.warning("subscription to subgraph %s ended: %s", subgraph, detail)
    return UpstreamClosed(
        [
            {
                "message": f"The subscription's connection to subgraph '{subgraph}' was lost",
                "extensions": {"code": "SUBGRAPH_UNAVAILABLE"},
            }
        ]
    )


class UpstreamSubscriber:
    """Opens subgraph subscriptions over the gateway's pooled session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        replicas: Mapping[str, ReplicaSet] | None = None,
        connect_timeout_s: float = 3.0,
        heartbeat_s: float | None = 15.0,
    ) -> None:
        self._session = session
        self._replicas: Mapping[str, ReplicaSet] = replicas or {}
        self._connect_timeout_s = connect_timeout_s
        self._heartbeat_s = heartbeat_s

    async def _connect(
        self, subgraph: str, url: str, headers: dict[str, str]
    ) -> aiohttp.ClientWebSocketResponse:
        """The upgraded socket, trying replicas in turn after connection failures."""
        replicas = self._replicas.get(subgraph)
        tried: list[Replica] = []
        while True:
            replica = replicas.pick(tried) if replicas is not None else None
            target = replica.url if replica is not None else url
            try:
                return await self._session.ws_connect(
                    target,
                    protocols=(PROTOCOL,),
                    headers=headers,
                    heartbeat=self._heartbeat_s,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                    max_msg_size=0,
                    compress=0,  # per-message deflate costs more CPU than it saves here
                )
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    log.info("subgraph %s refused a subscription: HTTP %s", subgraph, exc.status)
                    raise UpstreamClosed(
                        [
                            {
                                "message": "Invalid or expired token",
                                "extensions": {"code": "UNAUTHENTICATED"},
                            }
                        ]
                    ) from exc
                raise _unavailable(subgraph, f"upgrade refused: HTTP {exc.status}") from exc
            except (aiohttp.ClientConnectionError, OSError, TimeoutError) as exc:
                if replica is None or replicas is None:
                    raise _unavailable(subgraph, repr(exc)) from exc
                replicas.eject(replica, repr(exc))
                tried.append(replica)
                if len(tried) >= len(replicas.replicas):
                    raise _unavailable(subgraph, repr(exc)) from exc

    async def subscribe(
        self,
        subgraph: str,
        url: str,
        document: str,
        variables: dict[str, Any],
        authorization: str | None,
        forwarded: Mapping[str, str],
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yield the ``next`` payloads of one subgraph subscription (close it to stop)."""
        headers = dict(forwarded)
        if authorization:
            headers["Authorization"] = authorization
        try:
            async with asyncio.timeout(self._connect_timeout_s + 5):
                ws = await self._connect(subgraph, url, headers)
        except TimeoutError as exc:
            raise _unavailable(subgraph, "connect timed out") from exc
        completed = False
        try:
            init: dict[str, Any] = {"type": "connection_init"}
            if authorization:
                init["payload"] = {"Authorization": authorization}
            await ws.send_str(orjson.dumps(init).decode())
            try:
                async with asyncio.timeout(self._connect_timeout_s + 5):
                    message = await self._receive(ws, subgraph)
            except TimeoutError as exc:
                raise _unavailable(subgraph, "no connection_ack") from exc
            if message.get("type") != "connection_ack":
                raise _unavailable(subgraph, f"expected connection_ack, got {message.get('type')}")
            payload: dict[str, Any] = {"query": document}
            if variables:
                payload["variables"] = variables
            await ws.send_str(
                orjson.dumps({"id": OPERATION_ID, "type": "subscribe", "payload": payload}).decode()
            )
            while True:
                message = await self._receive(ws, subgraph)
                kind = message.get("type")
                if kind == "next" and message.get("id") == OPERATION_ID:
                    body = message.get("payload")
                    if isinstance(body, dict):
                        yield body
                elif kind == "complete" and message.get("id") == OPERATION_ID:
                    completed = True
                    return
                elif kind == "error" and message.get("id") == OPERATION_ID:
                    completed = True
                    errors = message.get("payload")
                    raise UpstreamClosed(
                        [e for e in errors if isinstance(e, dict)]
                        if isinstance(errors, list)
                        else []
                    )
                elif kind == "ping":
                    await ws.send_str('{"type":"pong"}')
        finally:
            with contextlib.suppress(Exception):
                if not completed and not ws.closed:
                    await ws.send_str(f'{{"id":"{OPERATION_ID}","type":"complete"}}')
            with contextlib.suppress(Exception):
                await ws.close()

    @staticmethod
    async def _receive(ws: aiohttp.ClientWebSocketResponse, subgraph: str) -> dict[str, Any]:
        msg = await ws.receive()
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            try:
                message = orjson.loads(msg.data)
            except orjson.JSONDecodeError as exc:
                raise _unavailable(subgraph, "a message that is not JSON") from exc
            if isinstance(message, dict):
                return message
            raise _unavailable(subgraph, "a message that is not a JSON object")
        detail = f"socket {msg.type.name}"
        if msg.type == aiohttp.WSMsgType.CLOSE:
            detail += f" {msg.data} {msg.extra!r}"
        raise _unavailable(subgraph, detail)
