"""The aiohttp application: /graphql (POST, GET + GraphiQL), /healthz, /readyz, /metrics.

At the edge, before an operation reaches `Gateway.execute`: body size, the JWT, the per-user
and per-tenant rate limits, persisted queries (APQ / allow-list), and the selection of the
client headers forwarded to the subgraphs.

The schema is composed in the background at start-up (subgraphs may still be starting), so
the process is alive at once and ready when composition succeeded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crm_common.auth import AuthError, Principal, TokenVerifier
from crm_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from crm_gateway.edge.headers import parse_allow_list, select_headers
from crm_gateway.edge.persisted import PersistedQueries, load_manifest
from crm_gateway.edge.rate_limit import RateLimiter, TokenBuckets
from crm_gateway.edge.response import GatewayResponse, request_error
from crm_gateway.federation.execution.balancer import ReplicaSet, replica_sets
from crm_gateway.federation.execution.client import SubgraphClient
from crm_gateway.federation.execution.context import FORWARDED_HEADERS
from crm_gateway.federation.execution.upstream import UpstreamSubscriber
from crm_gateway.federation.supergraph.composition import CompositionError, compose, load_sdls
from crm_gateway.federation.supergraph.file import parse_supergraph
from crm_gateway.federation.supergraph.model import Supergraph
from crm_gateway.gateway import Gateway
from crm_gateway.http.file_proxy import register_file_proxy, register_survey_proxy
from crm_gateway.http.graphiql import STATIC_DIR, STATIC_PREFIX, graphiql_page
from crm_gateway.http.realtime import Edge, serve_sse, serve_websocket, wants_event_stream
from crm_gateway.metrics import RATE_LIMITED, record_errors
from crm_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/json", "application/graphql-response+json"})
PLAN_HEADER = "X-Gateway-Plan"


@dataclass(slots=True)
class GatewayState:
    """What the handlers share: settings, the token verifier, the pool and the gateway."""

    settings: GatewaySettings
    verifier: TokenVerifier
    persisted: PersistedQueries
    limiter: RateLimiter
    forward_headers: frozenset[str]
    session: aiohttp.ClientSession | None = None
    # Subgraph subscriptions (federation.execution.upstream): each holds its connection for its
    # whole life, so they get their own session without a pool limit; the HTTP pool stays for
    # fetches.
    ws_session: aiohttp.ClientSession | None = None
    gateway: Gateway | None = None
    failure: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Subgraphs given with several URLs (federation.execution.balancer); kept across supergraphs.
    replicas: dict[str, ReplicaSet] = field(default_factory=dict)


STATE = web.AppKey("gateway_state", GatewayState)
EDGE = web.AppKey("gateway_edge", Edge)


def _json(response: GatewayResponse, headers: dict[str, str] | None = None) -> web.Response:
    record_errors(response.body)
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
        sdls = await load_sdls(
            state.session,
            settings.subgraph_urls(),
            wait_s=settings.sdl_wait_s,
            replicas=settings.subgraph_replicas(),
        )
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
        dedup_inflight=settings.dedup_inflight,
        replicas=state.replicas,
        connect_timeout_s=settings.subgraph_connect_timeout_s,
    )
    state.gateway = Gateway(
        supergraph,
        client,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        cache_size=settings.plan_cache_size,
        dedup_requests=settings.dedup_requests,
        max_root_fields=settings.max_root_fields,
        request_timeout_s=settings.request_timeout_s,
        introspection=settings.introspection_enabled(),
        mask_errors=settings.production,
        max_cost=settings.max_cost,
        cost_default_list_size=settings.cost_default_list_size,
        cost_record=settings.cost_record,
        upstream=UpstreamSubscriber(
            state.ws_session or state.session,
            replicas=state.replicas,
            connect_timeout_s=settings.subgraph_connect_timeout_s,
            heartbeat_s=settings.ws_ping_interval_s,
        ),
    )
    state.failure = None


@dataclass(frozen=True, slots=True)
class _Caller:
    """The request's Authorization header and, when verified, who sent it."""

    authorization: str | None
    principal: Principal | None


async def _authorize(request: web.Request) -> _Caller | web.Response:
    state = request.app[STATE]
    header = request.headers.get("Authorization")
    if not state.settings.auth:
        return _Caller(header, None)  # conformance runs only (GatewaySettings.check_safe)
    try:
        if state.settings.jwks_url:
            principal = await asyncio.to_thread(state.verifier.verify_header, header)
        else:
            principal = state.verifier.verify_header(header)
    except AuthError as exc:
        message = "Missing bearer token" if not header else "Invalid or expired token"
        log.info("rejected request: %s", exc)
        return _json(
            request_error(401, message, "UNAUTHENTICATED"),
            headers={"WWW-Authenticate": "Bearer"},
        )
    return _Caller(header, principal)


def _edge_checks(request: web.Request, caller: _Caller, operations: int) -> web.Response | bool:
    """Rate limits, then the forwarded headers; returns whether to include the query plan."""
    state = request.app[STATE]
    principal = caller.principal
    if principal is not None and state.limiter.enabled:
        rejection = state.limiter.admit(principal.tenant_id, principal.user_id, operations)
        if rejection is not None:
            RATE_LIMITED.labels(rejection.limit).inc()
            setting = "GATEWAY_" + rejection.limit.upper()
            return _json(
                request_error(
                    429,
                    f"Too many requests; retry in {rejection.retry_after_s} s ({setting}).",
                    "RATE_LIMITED",
                    limit=rejection.limit,
                    retryAfter=rejection.retry_after_s,
                ),
                headers={"Retry-After": str(rejection.retry_after_s)},
            )
    FORWARDED_HEADERS.set(select_headers(request.headers, state.forward_headers))
    wants_plan = request.headers.get(PLAN_HEADER, "").strip().lower() in ("1", "true", "yes")
    return wants_plan and state.settings.query_plan_enabled()


async def graphql_post(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    max_bytes = state.settings.max_body_bytes
    if request.content_length is not None and request.content_length > max_bytes:
        return _error(413, f"Request body larger than {max_bytes} bytes.", "PAYLOAD_TOO_LARGE")
    caller = await _authorize(request)
    if isinstance(caller, web.Response):
        return caller
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
    operations = len(body) if isinstance(body, list) and body else 1
    include_plan = _edge_checks(request, caller, operations)
    if isinstance(include_plan, web.Response):
        return include_plan
    if isinstance(body, list):
        return await _batch(state, body, caller.authorization)
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.", "BAD_REQUEST")
    gateway = state.gateway
    if gateway is None:
        return _error(503, "The gateway is not ready yet.", "SERVICE_UNAVAILABLE")
    query = state.persisted.resolve(body.get("query"), body.get("extensions"))
    if isinstance(query, GatewayResponse):
        return _json(query)
    if wants_event_stream(request):
        return await serve_sse(
            request,
            request.app[EDGE],
            query,
            body.get("variables"),
            body.get("operationName"),
            caller.authorization,
            allow_mutation=True,
        )
    response = await gateway.execute(
        query,
        body.get("variables"),
        body.get("operationName"),
        caller.authorization,
        include_plan=include_plan,
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
        query = state.persisted.resolve(item.get("query"), item.get("extensions"))
        if isinstance(query, GatewayResponse):
            return query.body
        response = await gateway.execute(
            query, item.get("variables"), item.get("operationName"), authorization
        )
        return response.body

    bodies = await asyncio.gather(*(one(item) for item in body))
    record_errors(bodies)
    return web.Response(body=orjson.dumps(bodies), content_type="application/json")


async def graphql_get(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await serve_websocket(request, request.app[EDGE])
    if "text/html" in request.headers.get("Accept", "") and not wants_event_stream(request):
        if state.settings.graphiql_enabled():
            return web.Response(text=graphiql_page(), content_type="text/html")
        if "query" not in request.query:
            return _error(404, "GraphiQL is disabled (GATEWAY_GRAPHIQL).", "NOT_FOUND")
    caller = await _authorize(request)
    if isinstance(caller, web.Response):
        return caller
    include_plan = _edge_checks(request, caller, 1)
    if isinstance(include_plan, web.Response):
        return include_plan
    gateway = state.gateway
    if gateway is None:
        return _error(503, "The gateway is not ready yet.", "SERVICE_UNAVAILABLE")
    parsed: dict[str, Any] = {}
    for name in ("variables", "extensions"):
        raw = request.query.get(name)
        if raw is not None:
            try:
                parsed[name] = json.loads(raw)
            except ValueError:
                return _error(400, f"'{name}' is not valid JSON.", "BAD_REQUEST")
    query = state.persisted.resolve(request.query.get("query"), parsed.get("extensions"))
    if isinstance(query, GatewayResponse):
        return _json(query)
    if wants_event_stream(request):
        return await serve_sse(
            request,
            request.app[EDGE],
            query,
            parsed.get("variables"),
            request.query.get("operationName"),
            caller.authorization,
            allow_mutation=False,
        )
    response = await gateway.execute(
        query,
        parsed.get("variables"),
        request.query.get("operationName"),
        caller.authorization,
        allow_mutation=False,
        include_plan=include_plan,
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


async def metrics(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def _http_metrics(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Requests and latency per route (the route pattern, so paths stay a bounded set)."""
    started = time.perf_counter()
    status = 500
    streamed = False
    try:
        response = await handler(request)
        status = response.status
        # A WebSocket or SSE stream lasts as long as its subscriptions: not a request latency.
        streamed = not isinstance(response, web.Response)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else "(unmatched)"
        HTTP_REQUESTS.labels("gateway", path, str(status)).inc()
        if not streamed:
            HTTP_LATENCY.labels("gateway", path).observe(time.perf_counter() - started)


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
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[_http_metrics, _no_leaks]
    )
    manifest = (
        load_manifest(settings.persisted_queries_file)
        if settings.persisted_queries_file is not None
        else None
    )
    user_rps, user_burst, tenant_rps, tenant_burst = settings.rate_limits()
    app[STATE] = GatewayState(
        settings=settings,
        verifier=TokenVerifier(settings),
        persisted=PersistedQueries(
            apq=settings.apq,
            cache_size=settings.apq_cache_size,
            manifest=manifest,
            allow_list=settings.allow_list,
            max_tokens=settings.max_tokens,
        ),
        limiter=RateLimiter(
            TokenBuckets(user_rps, user_burst), TokenBuckets(tenant_rps, tenant_burst)
        ),
        forward_headers=parse_allow_list(settings.propagate_headers),
    )

    app[EDGE] = Edge(
        settings=settings,
        verifier=app[STATE].verifier,
        limiter=app[STATE].limiter,
        persisted=app[STATE].persisted,
        forward_headers=app[STATE].forward_headers,
        gateway=lambda: app[STATE].gateway,
    )

    async def start(app: web.Application) -> None:
        state = app[STATE]
        connector = aiohttp.TCPConnector(
            limit=settings.pool_size, limit_per_host=settings.pool_size, keepalive_timeout=30
        )
        state.session = aiohttp.ClientSession(connector=connector)
        state.ws_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        state.replicas = replica_sets(
            settings.subgraph_replicas(), interval_s=settings.replica_probe_interval_s
        )
        for replicas in state.replicas.values():
            state.tasks.append(asyncio.create_task(replicas.run_probes(state.session)))
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
        if state.ws_session is not None:
            await state.ws_session.close()

    async def close_streams(app: web.Application) -> None:
        await app[EDGE].shutdown()

    app.on_startup.append(start)
    app.on_shutdown.append(close_streams)
    app.on_cleanup.append(stop)
    app.router.add_post("/graphql", graphql_post)
    app.router.add_get("/graphql", graphql_get)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    # /files → customer service (it authorises), /surveys/respond → service desk (the token
    # authorises), balanced over their replicas like /graphql
    register_file_proxy(app, settings, lambda: app[STATE].replicas.get("customer"))
    register_survey_proxy(app, settings, lambda: app[STATE].replicas.get("service-desk"))
    if settings.graphiql_enabled():
        app.router.add_static(STATIC_PREFIX, STATIC_DIR)
    return app
