"""The ``graphql.parse/validate/plan/execute`` spans; each subgraph call in a ``graphql.fetch``.

Runs in a subprocess: the tracer provider and the aiohttp instrumentation are process-global
and must not leak into other tests.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, aiohttp, strawberry
    from aiohttp import web
    from opentelemetry import trace
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from crm_gateway.federation.execution.client import SubgraphClient
    from crm_gateway.federation.supergraph.composition import compose
    from crm_gateway.gateway import Gateway

    @strawberry.type
    class Query:
        hello: str = "hi"

    async def main():
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        AioHttpClientInstrumentor().instrument()

        async def handler(request):
            if request.headers.get("x-fail"):
                return web.json_response({"data": {"hello": None}, "errors": [
                    {"message": "db password wrong", "path": ["hello"],
                     "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]})
            return web.json_response({"data": {"hello": "hi"}})

        app = web.Application()
        app.router.add_post("/graphql", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
        sdl = strawberry.federation.Schema(query=Query).as_str()
        async with aiohttp.ClientSession() as session:
            gateway = Gateway(compose({"s": (url, sdl)}), SubgraphClient(session, 5))
            response = await gateway.execute("query Hi { hello }", None, "Hi", None)
        assert response.body == {"data": {"hello": "hi"}}, response.body
        spans = {span.name: span for span in exporter.get_finished_spans()}
        for name in ("graphql.parse", "graphql.validate", "graphql.plan", "graphql.execute"):
            assert name in spans, sorted(spans)
        execute = spans["graphql.execute"]
        assert execute.attributes["graphql.operation.type"] == "query"
        assert execute.attributes["graphql.operation.name"] == "Hi"
        fetch = spans["graphql.fetch"]
        assert fetch.parent.span_id == execute.context.span_id
        assert fetch.attributes["graphql.subgraph.name"] == "s"
        assert fetch.attributes["graphql.operation.type"] == "query"
        assert fetch.attributes["graphql.operation.name"] == "Hi"
        assert len(fetch.attributes["graphql.document.hash"]) == 64
        clients = [s for s in spans.values() if s.kind == trace.SpanKind.CLIENT]
        assert len(clients) == 1, sorted(spans)
        assert clients[0].parent.span_id == fetch.context.span_id
        assert spans["graphql.plan"].attributes["graphql.plan.cached"] is False

        # Production masking: the client sees no detail, the execute span keeps it.
        exporter.clear()
        async with aiohttp.ClientSession(headers={"x-fail": "1"}) as session:
            masked = Gateway(
                compose({"s": (url, sdl)}), SubgraphClient(session, 5), mask_errors=True
            )
            response = await masked.execute("query Hi { hello }", None, "Hi", None)
        assert "db password" not in str(response.body), response.body
        execute = next(s for s in exporter.get_finished_spans() if s.name == "graphql.execute")
        events = [e for e in execute.events if e.name == "graphql.masked_error"]
        assert events and events[0].attributes["graphql.error.message"] == "db password wrong"
        await runner.cleanup()
        print("OK")

    asyncio.run(main())
    """
)


def test_phase_spans_wrap_the_subgraph_call() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "OK" in result.stdout
