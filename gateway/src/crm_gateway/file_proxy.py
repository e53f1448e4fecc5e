"""File upload and download through the gateway: ``POST /files`` and ``GET /files/{id}`` are
passed to the customer service as they are (body streamed, ``Authorization`` forwarded).

The gateway authorises nothing here: the customer service checks the token and authorises the
file like the customer it belongs to. With several customer replicas each request goes to the
next healthy one (`crm_gateway.balancer`); one that cannot be reached is ejected, and the
request is not resent (its body is a stream already consumed).
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from aiohttp import web

from crm_gateway.balancer import ReplicaSet
from crm_gateway.settings import GatewaySettings

_FORWARDED_REQUEST = ("Authorization", "Content-Type", "Content-Length", "traceparent")
_FORWARDED_RESPONSE = ("Content-Type", "Content-Disposition", "X-Content-Type-Options")
SESSION = web.AppKey("file_proxy_session", aiohttp.ClientSession)


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
    single = _base(graphql_url)

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
            body = {"errors": [{"message": "customer service unavailable",
                                "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}  # fmt: skip
            return web.json_response(body, status=502)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/files", forward)
    app.router.add_get("/files/{id}", forward)
