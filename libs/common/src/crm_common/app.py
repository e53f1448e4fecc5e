"""The aiohttp application every subgraph runs: `/graphql`, `/healthz`, `/readyz`, `/metrics`.

The bearer token is checked here, before any resolver runs (for subscriptions: on the WebSocket
upgrade request, graphql-transport-ws): a request without a valid token gets HTTP 401 /
``UNAUTHENTICATED``. The principal then gets its roles' permissions in its tenant
(`TenantZones.authorize`, crm_common.permissions). The one exception is the gateway's start-up query
``{ _service { sdl } }`` (the schema is not tenant data), so the gateway can compose before any
user has logged in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import WSCloseCode, web
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from strawberry.aiohttp.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from crm_common.auth import AuthError, Principal, TokenVerifier
from crm_common.graphql.context import RequestContext
from crm_common.graphql.errors import format_error
from crm_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from crm_common.settings import ServiceSettings
from crm_common.tenants import TenantZones

log = logging.getLogger(__name__)

ServicesT = TypeVar("ServicesT")
ReadinessCheck = Callable[[], Awaitable[bool]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PUBLIC_ROOT_FIELDS = {"_service", "__typename"}


def graphql_error_response(status: int, message: str, code: str) -> web.Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return web.json_response(body, status=status)


def _is_sdl_query(body: bytes) -> bool:
    """True when the operation selects nothing but ``_service``/``__typename`` at the root."""
    try:
        payload = json.loads(body)
        document = parse(payload["query"], no_location=True)
    except (ValueError, KeyError, TypeError, GraphQLError):
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or len(document.definitions) != 1:
        return False
    selections = operations[0].selection_set.selections
    return operations[0].operation.value == "query" and all(
        getattr(getattr(s, "name", None), "value", None) in _PUBLIC_ROOT_FIELDS for s in selections
    )


def _is_websocket_upgrade(request: web.Request) -> bool:
    return request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket"


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, RecursionError):
        return False


# PostgreSQL's jsonb, under FerretDB's PostgreSQL backend (the local store), cannot hold U+0000:
# such a write fails deep in the store, after validation. No field of ours has a use for it, so
# it is refused up front on every store, as the escape JSON must use for it (and the one a
# GraphQL string literal would use). A literal "\\u0000" typed as text is refused too.
_NUL_ESCAPE = re.compile(rb"\\u0000", re.IGNORECASE)


def _has_nul(body: bytes) -> bool:
    return b"\x00" in body or _NUL_ESCAPE.search(body) is not None


# strawberry's depth and alias limiters expand named fragments without memo (a chain of
# fragments each spreading the previous one twice costs 2^n and stalls the event loop) and fail
# with a KeyError on a spread of an undefined fragment: both are answered here, before them.
MAX_EXPANDED_FIELDS = 10_000
_NAMED_SPREAD = re.compile(r"\.\.\.\s*(?!on\b)[_A-Za-z]")


def _fragment_problem(body: bytes) -> str | None:
    """Why the operation's named fragments may not run (None when they may or there are none)."""
    try:
        query = json.loads(body).get("query")
        if not isinstance(query, str) or not _NAMED_SPREAD.search(query):
            return None
        document = parse(query, no_location=True, max_tokens=10_000)
    except (ValueError, RecursionError, GraphQLError):
        return None  # strawberry reports what is wrong with it
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    memo: dict[str, int] = {}
    unknown: list[str] = []

    def size(selection_set: SelectionSetNode | None, visiting: frozenset[str]) -> int:
        """Fields selected with named fragments expanded, each fragment sized once."""
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                if name not in fragments:
                    unknown.append(name)
                elif name not in visiting:
                    if name not in memo:
                        memo[name] = size(fragments[name].selection_set, visiting | {name})
                    total += memo[name]
            elif isinstance(sel, FieldNode | InlineFragmentNode):
                total += isinstance(sel, FieldNode) + size(sel.selection_set, visiting)
        return total

    try:
        expanded = sum(
            size(d.selection_set, frozenset())
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
        )
    except RecursionError:
        return None
    if unknown:
        return f"Unknown fragment '{unknown[0]}'."
    if expanded > MAX_EXPANDED_FIELDS:
        return (
            f"the operation selects more than {MAX_EXPANDED_FIELDS} fields once its fragments "
            "are expanded"
        )
    return None


class SubgraphView(GraphQLView[RequestContext[Any], None]):
    """Strawberry's aiohttp view with our context and our error format."""

    def __init__(self, services: Any, **kwargs: Any) -> None:
        super().__init__(graphql_ide=None, allow_queries_via_get=False, **kwargs)
        self._services = services
        # Open subscription sockets, closed ("going away") when the process shuts down.
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def get_context(
        self, request: web.Request, response: web.StreamResponse
    ) -> RequestContext[Any]:
        if isinstance(response, web.WebSocketResponse):
            self.sockets.add(response)
        principal: Principal | None = request.get("principal")
        return RequestContext(
            request=request, response=response, principal=principal, services=self._services
        )

    async def process_result(
        self, request: web.Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(e) for e in result.errors]
        return response


def create_app(
    settings: ServiceSettings,
    schema: Any,
    services: ServicesT,
    *,
    verifier: TokenVerifier,
    # The tenants' settings (their role permissions for every request); None only for a
    # subgraph without tenant data (test subgraphs): its principals hold the default matrix.
    tenant_settings: TenantZones | None,
    readiness: dict[str, ReadinessCheck],
    on_startup: list[Callable[[web.Application], Awaitable[None]]] | None = None,
    on_cleanup: list[Callable[[web.Application], Awaitable[None]]] | None = None,
) -> web.Application:
    service_name = settings.service_name

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            path = resource.canonical if resource else "other"
            HTTP_REQUESTS.labels(service_name, path, str(status)).inc()
            HTTP_LATENCY.labels(service_name, path).observe(time.perf_counter() - started)

    async def authorize(principal: Principal) -> Principal:
        if tenant_settings is None:
            return principal
        return await tenant_settings.authorize(principal)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/graphql":
            return await handler(request)
        if _is_websocket_upgrade(request):
            # Subscriptions (graphql-transport-ws): the upgrade request carries the bearer
            # token, as an HTTP request does (the gateway forwards it); no token, no socket.
            try:
                principal = await verifier.verify_header_async(request.headers.get("Authorization"))
            except AuthError as exc:
                return graphql_error_response(401, str(exc), "UNAUTHENTICATED")
            # The socket keeps the permissions of its start (as it keeps its token).
            request["principal"] = await authorize(principal)
            return await handler(request)
        if request.method != "POST":
            return graphql_error_response(405, "use POST for GraphQL requests", "BAD_REQUEST")
        if request.content_type != "application/json":
            return graphql_error_response(
                415, "GraphQL requests must be application/json", "BAD_REQUEST"
            )
        try:
            verified = await verifier.verify_header_async(request.headers.get("Authorization"))
            # The roles' permissions in the tenant (its role overrides, cached: TenantZones).
            request["principal"] = await authorize(verified)
        except AuthError as exc:
            if not _is_sdl_query(await request.read()):
                return graphql_error_response(401, str(exc), "UNAUTHENTICATED")
            request["principal"] = None
        if not _is_json_object(await request.read()):
            # strawberry answers a non-object or too deeply nested body with a 500.
            return graphql_error_response(
                400, "the request body must be a JSON object", "BAD_REQUEST"
            )
        if _has_nul(await request.read()):
            # A normal GraphQL answer (200, data null) so the gateway relays it as it is.
            return web.json_response(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "text may not contain NUL (U+0000) characters",
                            "extensions": {"code": "BAD_USER_INPUT"},
                        }
                    ],
                }
            )
        fragment_problem = _fragment_problem(await request.read())
        if fragment_problem:
            return graphql_error_response(400, fragment_problem, "GRAPHQL_VALIDATION_FAILED")
        return await handler(request)

    app = web.Application(
        middlewares=[observe, authenticate], client_max_size=settings.max_request_bytes
    )
    view = SubgraphView(services, schema=schema)

    async def close_sockets(_: web.Application) -> None:
        # Subscribers reconnect to another replica; waiting out the shutdown timeout helps none.
        async def close(ws: web.WebSocketResponse) -> None:
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

        await asyncio.gather(*(close(ws) for ws in list(view.sockets)))

    app.on_shutdown.append(close_sockets)

    async def graphql(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await view(request)
        return response

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": service_name})

    async def readyz(_: web.Request) -> web.Response:
        # Checks answer fast themselves (the database's: crm_common.readiness); this limit
        # only bounds a check that hangs, and stays under the probes' timeoutSeconds (3).
        results: dict[str, bool] = {}
        for name, check in readiness.items():
            try:
                results[name] = await asyncio.wait_for(check(), timeout=2.5)
            except Exception:
                results[name] = False
        ready = all(results.values())
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": results},
            status=200 if ready else 503,
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_route("*", "/graphql", graphql)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    for hook in on_startup or []:
        app.on_startup.append(hook)
    for hook in on_cleanup or []:
        app.on_cleanup.append(hook)
    return app


def serve(app: web.Application, settings: ServiceSettings) -> None:
    """Run until SIGINT/SIGTERM; in-flight requests get up to 10 s to finish."""
    log.info("listening", extra={"url": f"http://{settings.host}:{settings.port}/graphql"})
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=10,
        print=None,
        access_log=None,
        handle_signals=True,
    )
