"""``traceparent`` reaches subgraphs via the OTel aiohttp-client instrumentation, once.

Runs in a subprocess: instrumentation is process-global and must not leak into other tests.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, aiohttp
    from aiohttp import web
    from crm_common.tracing import setup_tracing
    from crm_gateway.federation.execution.client import SubgraphClient

    async def main():
        setup_tracing("gateway-test")
        seen = []

        async def handler(request):
            seen.append(request.headers.getall("traceparent", []))
            return web.json_response({"data": {"ok": True}})

        app = web.Application()
        app.router.add_post("/graphql", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
        async with aiohttp.ClientSession() as session:
            body = await SubgraphClient(session, 5).request("s", url, "{ ok }", {}, "Bearer x")
        await runner.cleanup()
        assert body == {"data": {"ok": True}}, body
        assert len(seen) == 1 and len(seen[0]) == 1, seen
        assert seen[0][0].startswith("00-"), seen
        print("OK")

    asyncio.run(main())
    """
)


def test_traceparent_is_injected_once() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "OK" in result.stdout
