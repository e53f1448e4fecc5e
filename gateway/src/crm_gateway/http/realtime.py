"""Subscriptions at the edge: ``graphql-transport-ws`` over WebSocket and GraphQL over SSE.

Both run on ``/graphql`` and go through `Gateway.stream`: the same parse, limits (depth,
aliases, root fields, tokens, cost), validation, persisted queries / allow-list and rate limits
as an HTTP request. Every subscription is planned like a query whose root field comes from
the owning subgraph; `federation.execution.upstream` holds one subgraph subscription per client
subscription and the later plan stages (``_entities``) run per event.

**WebSocket** (protocol ``graphql-transport-ws``, as the ``graphql-ws`` library speaks it):
``connection_init`` within ``GATEWAY_WS_INIT_TIMEOUT_S`` (else close 4408); the token is
``payload.Authorization`` / ``payload.authorization`` or, failing those, the upgrade request's
``Authorization`` header, verified like an HTTP request's (invalid or missing: close 4403
``Forbidden``). At most ``GATEWAY_MAX_SUBSCRIPTIONS_PER_CONNECTION`` operations at once (more:
an ``error`` message for that id). Pings: a ``ping`` message every ``GATEWAY_WS_PING_INTERVAL_S``
and WebSocket ping frames (a peer that stops answering them is dropped); a client ``ping`` gets
a ``pong``. When the token expires every operation gets an ``error`` (``UNAUTHENTICATED``) and
the socket is closed with 4403 ``Forbidden``. A subgraph subscription that fails sends
``next`` with the error (``SUBGRAPH_UNAVAILABLE``) and ``complete``. Queries and mutations
work too (one ``next`` and ``complete``).

**SSE** (graphql-sse "distinct connections mode"): ``POST /graphql`` with ``Accept:
text/event-stream`` (or ``GET`` with ``query``/``variables``/``operationName``/``extensions``
parameters; no mutations), authenticated by the ``Authorization`` header. Refusals before the
stream starts are ordinary JSON answers with their HTTP status (401, 400, 429, ...). Then
``event: next`` per result and ``event: complete``; a comment line every
``GATEWAY_SSE_HEARTBEAT_S``; at token expiry a ``next`` with an ``UNAUTHENTICATED`` error, then
``complete``. A client that goes away ends its subgraph subscription within ~0.5 s.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from crm_common.auth import AuthError, Principal, TokenVerifier
from crm_gateway.edge.headers import select_headers
from crm_gateway.edge.persisted import PersistedQueries
from crm_gateway.edge.rate_limit import RateLimiter
from crm_gateway.edge.response import GatewayResponse, request_error
from crm_gateway.federation.execution.context import FORWARDED_HEADERS
from crm_gateway.gateway import Gateway
from crm_gateway.metrics import (
    RATE_LIMITED,
    SUBSCRIPTION_EVENTS,
    SUBSCRIPTIONS_ACTIVE,
    record_errors,
)
from crm_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)
WS_EVENTS = SUBSCRIPTION_EVENTS.labels("websocket")
SSE_EVENTS = SUBSCRIPTION_EVENTS.labels("sse")

GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
EVENT_STREAM = "text/event-stream"
WATCH_INTERVAL_S = 0.5

EXPIRED_ERROR: dict[str, Any] = {
    "message": "The token has expired",
    "extensions": {"code": "UNAUTHENTICATED"},
}


def token_expiry(authorization: str | None) -> float | None:
    """The ``exp`` claim (epoch seconds) of an already verified bearer token."""
    if not authorization:
        return None
    token = authorization.partition(" ")[2].strip()
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


@dataclass(slots=True)
class Edge:
    """What the realtime handlers need from the app (built once in `crm_gateway.http.app`)."""

    settings: GatewaySettings
    verifier: TokenVerifier
    limiter: RateLimiter
    persisted: PersistedQueries
    forward_headers: frozenset[str]
    gateway: Callable[[], Gateway | None]
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)
    streams: dict[asyncio.Task[None], web.Request] = field(default_factory=dict)
    _watcher: asyncio.Task[None] | None = None

    def admit(self, principal: Principal | None) -> dict[str, Any] | None:
        """The rate-limit error for one more operation of ``principal``, if refused."""
        if principal is None or not self.limiter.enabled:
            return None
        rejection = self.limiter.admit(principal.tenant_id, principal.user_id, 1)
        if rejection is None:
            return None
        RATE_LIMITED.labels(rejection.limit).inc()
        setting = "GATEWAY_" + rejection.limit.upper()
        return request_error(
            429,
            f"Too many requests; retry in {rejection.retry_after_s} s ({setting}).",
            "RATE_LIMITED",
            limit=rejection.limit,
            retryAfter=rejection.retry_after_s,
        ).body

    def watch(self, task: asyncio.Task[None], request: web.Request) -> None:
        """Cancel ``task`` once the client of ``request`` has gone (checked twice a second)."""
        self.streams[task] = request
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while self.streams:
            await asyncio.sleep(WATCH_INTERVAL_S)
            for task, request in list(self.streams.items()):
                transport = request.transport
                if transport is None or transport.is_closing():
                    task.cancel()
                    self.streams.pop(task, None)

    async def shutdown(self) -> None:
        """Close every WebSocket (1001) and end every SSE stream (app shutdown)."""
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"Going away")
        for task in list(self.streams):
            task.cancel()
        if self._watcher is not None:
            self._watcher.cancel()


def wants_event_stream(request: web.Request) -> bool:
    return EVENT_STREAM in request.headers.get("Accept", "")


def _dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


# -- WebSocket --------------------------------------------------------------------------------


async def serve_websocket(request: web.Request, edge: Edge) -> web.WebSocketResponse:
    settings = edge.settings
    ws = web.WebSocketResponse(
        protocols=(GRAPHQL_TRANSPORT_WS,),
        heartbeat=settings.ws_ping_interval_s,
        max_msg_size=settings.max_body_bytes,
        # No permessage-deflate: small JSON events, and zlib per message is the largest CPU
        # cost of sending one (bench_subscriptions).
        compress=False,
    )
    await ws.prepare(request)
    if ws.ws_protocol != GRAPHQL_TRANSPORT_WS:
        await ws.close(code=4406, message=b"Subprotocol not acceptable")
        return ws
    edge.sockets.add(ws)
    await _Connection(request, ws, edge).run()
    return ws


class _Connection:
    """One graphql-transport-ws connection and its running operations."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, edge: Edge) -> None:
        self.request = request
        self.ws = ws
        self.edge = edge
        self.settings = edge.settings
        self.ops: dict[str, asyncio.Task[None]] = {}
        self.timers: list[asyncio.Task[None]] = []
        self.init_received = False
        self.acked = False
        self.authorization: str | None = None
        self.principal: Principal | None = None
        self.forwarded = select_headers(request.headers, edge.forward_headers)
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                # A text frame from orjson's UTF-8 bytes (send_str would decode and re-encode).
                await self.ws.send_frame(orjson.dumps(message), web.WSMsgType.TEXT)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, message=reason.encode())

    async def run(self) -> None:
        # Entity fetches of this connection's events forward the upgrade request's headers.
        FORWARDED_HEADERS.set(self.forwarded)
        self.timers.append(asyncio.create_task(self._init_timeout()))
        self.timers.append(asyncio.create_task(self._pings()))
        try:
            async for msg in self.ws:
                if msg.type != web.WSMsgType.TEXT:
                    await self.close(4400, "WebSocket message type must be text")
                    break
                try:
                    message = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    message = None
                if not isinstance(message, dict):
                    await self.close(4400, "WebSocket message must be a JSON object")
                    break
                await self._handle(message)
        finally:
            tasks = [*self.timers, *self.ops.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            op_id = message.get("id")
            task = self.ops.pop(op_id, None) if isinstance(op_id, str) else None
            if task is not None:
                task.cancel()
        else:
            await self.close(4400, f"Unknown message type: {kind}")

    async def _init(self, payload: Any) -> None:
        if self.init_received:
            await self.close(4429, "Too many initialisation requests")
            return
        self.init_received = True
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self.close(4400, "Invalid connection init payload")
            return
        header = payload.get("Authorization") or payload.get("authorization")
        if not isinstance(header, str):
            header = self.request.headers.get("Authorization")
        if self.settings.auth:
            try:
                self.principal = await self.edge.verifier.verify_header_async(header)
            except AuthError as exc:
                log.info("rejected WebSocket connection: %s", exc)
                await self.close(4403, "Forbidden")
                return
            expiry = token_expiry(header)
            if expiry is not None:
                self.timers.append(asyncio.create_task(self._expire_at(expiry)))
        self.authorization = header
        self.acked = True
        await self.send({"type": "connection_ack"})

    async def _init_timeout(self) -> None:
        await asyncio.sleep(self.settings.ws_init_timeout_s)
        if not self.acked:
            await self.close(4408, "Connection initialisation timeout")

    async def _pings(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ws_ping_interval_s)
            await self.send({"type": "ping"})

    async def _expire_at(self, expiry: float) -> None:
        await asyncio.sleep(max(0.0, expiry - time.time()))
        log.info("closing a WebSocket connection: its token expired")
        ops = dict(self.ops)
        self.ops.clear()
        for task in ops.values():
            task.cancel()
        await asyncio.gather(*ops.values(), return_exceptions=True)
        for op_id in ops:
            await self.send({"id": op_id, "type": "error", "payload": [EXPIRED_ERROR]})
        await self.close(4403, "Forbidden")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acked:
            await self.close(4401, "Unauthorized")
            return
        op_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            await self.close(4400, "Invalid subscribe message")
            return
        if op_id in self.ops:
            await self.close(4409, f"Subscriber for {op_id} already exists")
            return
        limit = self.settings.max_subscriptions_per_connection
        if len(self.ops) >= limit:
            error = request_error(
                400,
                f"At most {limit} operations may run on one connection "
                "(GATEWAY_MAX_SUBSCRIPTIONS_PER_CONNECTION).",
                "SUBSCRIPTION_LIMIT_EXCEEDED",
                limit="max_subscriptions_per_connection",
            ).body
            record_errors(error)
            await self.send({"id": op_id, "type": "error", "payload": error["errors"]})
            return
        self.ops[op_id] = asyncio.create_task(self._run(op_id, payload))

    async def _run(self, op_id: str, payload: dict[str, Any]) -> None:
        try:
            await self._operation(op_id, payload)
        finally:
            if self.ops.get(op_id) is asyncio.current_task():
                del self.ops[op_id]

    async def _operation(self, op_id: str, payload: dict[str, Any]) -> None:
        refusal = self.edge.admit(self.principal)
        if refusal is not None:
            await self._error(op_id, refusal)
            return
        gateway = self.edge.gateway()
        if gateway is None:
            body = request_error(503, "The gateway is not ready yet.", "SERVICE_UNAVAILABLE")
            await self._error(op_id, body.body)
            return
        query = self.edge.persisted.resolve(payload.get("query"), payload.get("extensions"))
        if isinstance(query, GatewayResponse):
            await self._error(op_id, query.body)
            return
        result = await gateway.stream(
            query,
            payload.get("variables"),
            payload.get("operationName"),
            self.authorization,
            self.forwarded,
        )
        if isinstance(result, GatewayResponse):
            if "data" not in result.body:
                await self._error(op_id, result.body)
                return
            record_errors(result.body)
            await self.send({"id": op_id, "type": "next", "payload": result.body})
        else:
            await self._pump(op_id, result)
        # Not after a cancellation (the client's complete, the token's expiry): no reply then.
        if self.ops.get(op_id) is asyncio.current_task():
            await self.send({"id": op_id, "type": "complete"})

    async def _pump(self, op_id: str, events: AsyncGenerator[dict[str, Any], None]) -> None:
        SUBSCRIPTIONS_ACTIVE.labels("websocket").inc()
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    record_errors(event)
                    await self.send({"id": op_id, "type": "next", "payload": event})
                    WS_EVENTS.inc()
        finally:
            SUBSCRIPTIONS_ACTIVE.labels("websocket").dec()

    async def _error(self, op_id: str, body: dict[str, Any]) -> None:
        record_errors(body)
        errors = body.get("errors") or [
            {"message": "The operation was refused", "extensions": {"code": "BAD_REQUEST"}}
        ]
        await self.send({"id": op_id, "type": "error", "payload": errors})


# -- Server-Sent Events -----------------------------------------------------------------------


class _SseWriter:
    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self._lock = asyncio.Lock()

    async def write(self, text: str) -> None:
        async with self._lock:
            await self.response.write(text.encode())

    async def event(self, name: str, body: dict[str, Any] | None) -> None:
        data = _dumps(body) if body is not None else ""
        await self.write(f"event: {name}\ndata: {data}\n\n")


async def serve_sse(
    request: web.Request,
    edge: Edge,
    query: Any,
    variables: Any,
    operation_name: Any,
    authorization: str | None,
    *,
    allow_mutation: bool,
) -> web.StreamResponse:
    """One operation as a graphql-sse stream (the caller has authenticated and rate-limited)."""
    gateway = edge.gateway()
    if gateway is None:
        return _json(request_error(503, "The gateway is not ready yet.", "SERVICE_UNAVAILABLE"))
    forwarded = FORWARDED_HEADERS.get({})
    result = await gateway.stream(
        query, variables, operation_name, authorization, forwarded, allow_mutation=allow_mutation
    )
    if isinstance(result, GatewayResponse) and "data" not in result.body:
        return _json(result)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    writer = _SseWriter(response)
    if isinstance(result, GatewayResponse):
        record_errors(result.body)
        with contextlib.suppress(ConnectionError):
            await writer.event("next", result.body)
            await writer.event("complete", None)
        return response
    expiry = token_expiry(authorization) if edge.settings.auth else None
    pump = asyncio.create_task(_sse_pump(writer, result, expiry, edge.settings.sse_heartbeat_s))
    edge.watch(pump, request)
    try:
        await pump
    except asyncio.CancelledError:
        pump.cancel()
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        # The client went away (or the app is shutting down): nothing left to write to.
    finally:
        edge.streams.pop(pump, None)
    return response


async def _sse_pump(
    writer: _SseWriter,
    events: AsyncGenerator[dict[str, Any], None],
    expiry: float | None,
    heartbeat_s: float,
) -> None:
    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(heartbeat_s)
            await writer.write(":\n\n")

    beats = asyncio.create_task(heartbeat())
    SUBSCRIPTIONS_ACTIVE.labels("sse").inc()
    loop = asyncio.get_running_loop()
    deadline = None if expiry is None else loop.time() + max(0.0, expiry - time.time())
    try:
        async with contextlib.aclosing(events):
            expired = asyncio.timeout_at(deadline)
            try:
                async with expired:
                    async for event in events:
                        record_errors(event)
                        await writer.event("next", event)
                        SSE_EVENTS.inc()
            except TimeoutError:
                if not expired.expired():
                    raise
                log.info("ending an SSE subscription: its token expired")
                await writer.event("next", {"errors": [EXPIRED_ERROR], "data": None})
        await writer.event("complete", None)
    except ConnectionError:
        pass  # the client went away while we wrote
    finally:
        SUBSCRIPTIONS_ACTIVE.labels("sse").dec()
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await beats


def _json(response: GatewayResponse) -> web.Response:
    record_errors(response.body)
    headers = {"WWW-Authenticate": "Bearer"} if response.status == 401 else None
    return web.Response(
        status=response.status,
        body=orjson.dumps(response.body),
        content_type="application/json",
        headers=headers,
    )
