"""OpenTelemetry set-up: one tracer provider per process, named after the service.

Spans go to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and to a JSON-lines file when
``CRM_TRACE_FILE`` is set (the e2e tests read it to follow one trace across processes).
Instrumentation is installed before any client or app is created: the PyMongo instrumentation
registers a global command listener and the aiohttp server one patches ``web.Application``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

_configured = False


class DropBackgroundClientSpans(Sampler):
    """Root sampler: a client call (a database command, an outgoing HTTP call) that starts a
    trace of its own is background work — an outbox poll, a due-loop sweep, a lease renewal —
    and is dropped; everything that belongs to a request or an event is kept.

    Without it an idle service wrote ~30 spans a second, each a one-span trace of an empty
    poll, burying the traces that matter. The outbox relay's work is not lost: its publish
    span joins the trace of the write that recorded the event (crm_common.events.outbox).
    """

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "DropBackgroundClientSpans"


def sampler() -> Sampler:
    """Children follow their parent; roots go through `DropBackgroundClientSpans`."""
    return ParentBased(root=DropBackgroundClientSpans())


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object per line (for tests and debugging)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            if ctx is None:
                continue
            parent = span.parent
            lines.append(
                json.dumps(
                    {
                        "service": span.resource.attributes.get("service.name"),
                        "name": span.name,
                        "kind": span.kind.name,
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_span_id": format(parent.span_id, "016x") if parent else None,
                        "start": span.start_time,
                        "end": span.end_time,
                        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
                    }
                )
            )
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        return SpanExportResult.SUCCESS


def setup_tracing(service_name: str) -> None:
    """Install the tracer provider and the aiohttp/PyMongo instrumentation (idempotent)."""
    global _configured
    if _configured:
        return
    _configured = True
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=sampler()
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace_file = os.environ.get("CRM_TRACE_FILE")
    if trace_file:
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(Path(trace_file))))
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    AioHttpClientInstrumentor().instrument()
    AioHttpServerInstrumentor().instrument()
    PymongoInstrumentor().instrument()


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
