"""File upload and download through the gateway: ``POST /files`` and ``GET /files/{id}`` are
passed to the customer service as they are (body streamed, ``Authorization`` forwarded); the
public survey endpoint ``GET|POST /surveys/respond`` (the links e-mailed to customers, no login:
the token in the link is the credential) is passed to the service desk the same way.

The gateway authorises nothing here: the customer service checks the token and authorises the
file like the customer it belongs to. With several customer replicas each request goes to the
next healthy one (`federation.execution.balancer`); one that cannot be reached is ejected, and the
request is not resent (its body is a stream already consumed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from crm_gateway.federation.execution.balancer import ReplicaSet
from crm_gateway.settings import GatewaySettings

_FORWARDED_REQUEST = ("Authorization", "Content-Type", "Content-Length", "Accept", "traceparent")
_FORWARDED_RESPONSE = (
    "Content-Type",
    "Content-Disposition",
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "Cache-Control",
)
SESSION = web.AppKey("file_proxy_session", aiohttp.ClientSession)
SURVEY_SESSION = web.AppKey("survey_proxy_session", aiohttp.ClientSession)


def _base(graphql_url: str) -> str:
    return graphql_url.removesuffix("/").removesuffix("/graphql")


def register_file_proxy(
    app: web.Application,
    settings: GatewaySettings,
    replicas: Callable[[], ReplicaSet | None] = lambda: None,
) -> None:
    graphql_url = settings.subgraph_urls().get("customer")
    if graphql_url is None:
        return  # no customer subgraph, no files
    forward = _pass_through(app, _base(graphql_url), replicas, SESSION, "customer")
    app.router.add_post("/files", forward)
    app.router.add_get("/files/{id}", forward)


def register_survey_proxy(
    app: web.Application,
    settings: GatewaySettings,
    replicas: Callable[[], ReplicaSet | None] = lambda: None,
) -> None:
    """The survey links the service desk e-mails point here (its PUBLIC_BASE_URL)."""
    graphql_url = settings.subgraph_urls().get("service-desk")
    if graphql_url is None:
        return
    forward = _pass_through(app, _base(graphql_url), replicas, SURVEY_SESSION, "service desk")
    app.router.add_get("/surveys/respond", forward)
    app.router.add_post("/surveys/respond", forward)


def _pass_through(
    app: web.Application,
    single: str,
    replicas: Callable[[], ReplicaSet | None],
    session_key: web.AppKey[aiohttp.ClientSession],
    what: str,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    SESSION = session_key  # noqa: N806 - the app key this pass-through's session lives under

    async def start(app: web.Application) -> None:
        app[SESSION] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))

    async def stop(app: web.Application) -> None:
        await app[SESSION].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {h: request.headers[h] for h in _FORWARDED_REQUEST if h in request.headers}
        pool = replicas()
        replica = pool.pick() if pool is not None else None
        url = (single if replica is None else _base(replica.url)) + request.path_qs
        try:
            async with app[SESSION].request(
                request.method, url, headers=headers, data=request.content
            ) as upstream:
                response = web.StreamResponse(status=upstream.status)
                for name in _FORWARDED_RESPONSE:
                    if name in upstream.headers:
                        response.headers[name] = upstream.headers[name]
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ClientError as exc:
            if (
                pool is not None
                and replica is not None
                and isinstance(exc, aiohttp.ClientConnectorError)
            ):
                pool.eject(replica, repr(exc))
            body = {"errors": [{"message": f"{what} service unavailable",
                                "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}  # fmt: skip
            return web.json_response(body, status=502)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return forward
