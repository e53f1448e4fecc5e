"""Which spans the process records: background client calls that start a trace are dropped."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crm_common.tracing import sampler


def _tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_a_client_call_outside_any_trace_is_not_recorded() -> None:
    tracer, exporter = _tracer()
    with tracer.start_as_current_span("find outbox", kind=trace.SpanKind.CLIENT):
        pass
    assert exporter.get_finished_spans() == ()


def test_client_calls_inside_a_request_or_an_event_are_recorded() -> None:
    tracer, exporter = _tracer()
    for kind in (trace.SpanKind.SERVER, trace.SpanKind.CONSUMER, trace.SpanKind.PRODUCER):
        with (
            tracer.start_as_current_span(f"root {kind.name}", kind=kind),
            tracer.start_as_current_span("insert customers", kind=trace.SpanKind.CLIENT),
        ):
            pass
    names = [span.name for span in exporter.get_finished_spans()]
    assert names.count("insert customers") == 3
    assert {"root SERVER", "root CONSUMER", "root PRODUCER"} <= set(names)
