"""The aiohttp application: /graphql (POST, GET + GraphiQL), /healthz, /readyz.

The schema is composed in the background at start-up (subgraphs may still be starting), so
the process is alive at once and ready when composition succeeded.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from crm_common.auth import AuthError, TokenVerifier
from crm_gateway.client import SubgraphClient
from crm_gateway.composition import CompositionError, compose, load_sdls
from crm_gateway.file_proxy import register_file_proxy
from crm_gateway.gateway import Gateway, GatewayResponse, request_error
from crm_gateway.graphiql import STATIC_DIR, STATIC_PREFIX, graphiql_page
from crm_gateway.settings import GatewaySettings
from crm_gateway.supergraph import Supergraph
from crm_gateway.supergraph_file import parse_supergraph

log = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/json", "application/graphql-response+json"})


@dataclass(slots=True)
class GatewayState:
    """What the handlers share: settings, the token verifier, the pool and the gateway."""

    settings: GatewaySettings
    verifier: TokenVerifier
    session: aiohttp.ClientSession | None = None
    gateway: Gateway | None = None
    failure: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


STATE = web.AppKey("gateway_state", GatewayState)


def _json(response: GatewayResponse, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=response.status,
        body=orjson.dumps(response.body),
        content_type="application/json",
        headers=headers,
    )


def _error(status: int, message: str, code: str) -> web.Response:
    return _json(request_error(status, message, code))


async def _compose(app: web.Application, on_failure: Callable[[str], None] | None) -> None:
    state = app[STATE]
    settings = state.settings
    assert state.session is not None
    try:
        if settings.supergraph_file is not None:
            text = await asyncio.to_thread(settings.supergraph_file.read_text, encoding="utf-8")
            supergraph = parse_supergraph(text)
            install_supergraph(app, supergraph)
            log.info("supergraph read from %s", settings.supergraph_file)
            return
        sdls = await load_sdls(state.session, settings.subgraph_urls(), wait_s=settings.sdl_wait_s)
        supergraph = compose(sdls)
        install_supergraph(app, supergraph)
        log.info("supergraph composed from %d subgraphs", len(sdls))
    except (CompositionError, ValueError, OSError) as exc:
        state.failure = str(exc)
        log.error("composition failed: %s", exc)
        if on_failure is not None:
            on_failure(str(exc))


def install_supergraph(app: web.Application, supergraph: Supergraph) -> None:
    """Swap in a (new) supergraph; requests in flight keep the one they started with."""
    state = app[STATE]
    assert state.session is not None
    settings = state.settings
    client = SubgraphClient(
        state.session,
        settings.subgraph_timeout_s,
        retries=settings.subgraph_retries,
        backoff_s=settings.retry_backoff_s,
        breaker_threshold=settings.breaker_threshold,
        breaker_open_s=settings.breaker_open_s,
    )
    state.gateway = Gateway(
        supergraph,
        client,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        cache_size=settings.plan_cache_size,
        max_root_fields=settings.max_root_fields,
        request_timeout_s=settings.request_timeout_s,
        introspection=settings.introspection_enabled(),
        mask_errors=settings.production,
    )
    state.failure = None


async def _authorize(request: web.Request) -> str | web.Response | None:
    state = request.app[STATE]
    header = request.headers.get("Authorization")
    if not state.settings.auth:
        return header  # conformance runs only (GatewaySettings.check_safe)
    try:
        if state.settings.jwks_url:
            await asyncio.to_thread(state.verifier.verify_header, header)
        else:
            state.verifier.verify_header(header)
    except AuthError as exc:
        message = "Missing bearer token" if not header else "Invalid or expired token"
        log.info("rejected request: %s", exc)
        return _json(
            request_error(401, message, "UNAUTHENTICATED"),
            headers={"WWW-Authenticate": "Bearer"},
        )
    assert header is not None
    return header


async def graphql_post(request: web.Request) -> web.Response:
    state = request.app[STATE]
    max_bytes = state.settings.max_body_bytes
    if request.content_length is not None and request.content_length > max_bytes:
        return _error(413, f"Request body larger than {max_bytes} bytes.", "PAYLOAD_TOO_LARGE")
    authorization = await _authorize(request)
    if isinstance(authorization, web.Response):
        return authorization
    if request.content_type not in JSON_TYPES:
        return _error(415, "Content-Type must be application/json.", "UNSUPPORTED_MEDIA_TYPE")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"Request body larger than {max_bytes} bytes.", "PAYLOAD_TOO_LARGE")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "The request body is not valid JSON.", "BAD_REQUEST")
    if isinstance(body, list):
        return await _batch(state, body, authorization)
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.", "BAD_REQUEST")
    gateway = state.gateway
    if gateway is None:
        return _error(503, "The gateway is not ready yet.", "SERVICE_UNAVAILABLE")
    response = await gateway.execute(
        body.get("query"), body.get("variables"), body.get("operationName"), authorization
    )
    return _json(response)


async def _batch(state: GatewayState, body: list[Any], authorization: str | None) -> web.Response:
    """A JSON array of operations, run concurrently; the answer is the array of their bodies."""
    settings = state.settings
    if not settings.batching:
        return _json(
            request_error(
                400,
                "Batched requests (a JSON array body) are disabled (GATEWAY_BATCHING).",
                "BATCHING_DISABLED",
                limit="batching",
            )
        )
    if not body or len(body) > settings.max_batch_size:
        return _json(
            request_error(
                400,
                f"A batch must hold 1 to {settings.max_batch_size} operations, not {len(body)} "
                "(GATEWAY_MAX_BATCH_SIZE).",
                "BATCH_TOO_LARGE" if body else "BAD_REQUEST",
                limit="max_batch_size",
            )
        )
    gateway = state.gateway
    if gateway is None:
        return _error(503, "The gateway is not ready yet.", "SERVICE_UNAVAILABLE")

    async def one(item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            return request_error(400, "Each batch entry must be a JSON object.", "BAD_REQUEST").body
        response = await gateway.execute(
            item.get("query"), item.get("variables"), item.get("operationName"), authorization
        )
        return response.body

    bodies = await asyncio.gather(*(one(item) for item in body))
    return web.Response(body=orjson.dumps(bodies), content_type="application/json")


async def graphql_get(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if "text/html" in request.headers.get("Accept", ""):
        if state.settings.graphiql_enabled():
            return web.Response(text=graphiql_page(), content_type="text/html")
        if "query" not in request.query:
            return _error(404, "GraphiQL is disabled (GATEWAY_GRAPHIQL).", "NOT_FOUND")
    authorization = await _authorize(request)
    if isinstance(authorization, web.Response):
        return authorization
    gateway = state.gateway
    if gateway is None:
        return _error(503, "The gateway is not ready yet.", "SERVICE_UNAVAILABLE")
    variables: Any = request.query.get("variables")
    if variables is not None:
        try:
            variables = json.loads(variables)
        except ValueError:
            return _error(400, "'variables' is not valid JSON.", "BAD_REQUEST")
    response = await gateway.execute(
        request.query.get("query"),
        variables,
        request.query.get("operationName"),
        authorization,
        allow_mutation=False,
    )
    return _json(response)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.gateway is not None:
        return web.json_response({"status": "ready"})
    status = {"status": "composing"} if state.failure is None else {"status": "failed"}
    return web.json_response(status, status=503)


@web.middleware
async def _no_leaks(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unexpected exceptions become a generic GraphQL-shaped 500 (details only in the log)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "Internal server error", "INTERNAL_SERVER_ERROR")


def create_app(
    settings: GatewaySettings | None = None,
    *,
    supergraph: Supergraph | None = None,
    on_compose_failure: Callable[[str], None] | None = None,
) -> web.Application:
    """Build the app; with ``supergraph`` given, no SDLs are fetched at start-up."""
    settings = settings or GatewaySettings()
    settings.check_safe()
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[_no_leaks])
    app[STATE] = GatewayState(settings=settings, verifier=TokenVerifier(settings))

    async def start(app: web.Application) -> None:
        state = app[STATE]
        connector = aiohttp.TCPConnector(
            limit=settings.pool_size, limit_per_host=settings.pool_size, keepalive_timeout=30
        )
        state.session = aiohttp.ClientSession(connector=connector)
        if supergraph is not None:
            install_supergraph(app, supergraph)
        else:
            state.tasks.append(asyncio.create_task(_compose(app, on_compose_failure)))

    async def stop(app: web.Application) -> None:
        state = app[STATE]
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        if state.session is not None:
            await state.session.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/graphql", graphql_post)
    app.router.add_get("/graphql", graphql_get)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    register_file_proxy(app, settings)  # /files → customer service (it authorises)
    if settings.graphiql_enabled():
        app.router.add_static(STATIC_PREFIX, STATIC_DIR)
    return app
