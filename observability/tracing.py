"""OpenTelemetry tracing: a span per case, node, gate decision, tool call and LLM call.

RECOURSE_TRACE_EXPORTER: none (default) | console | otlp (OTLP/HTTP; OTEL_EXPORTER_OTLP_ENDPOINT says where).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from opentelemetry import trace

tracer = trace.get_tracer("recourse")
_configured = False


def setup_tracing(exporter: str = "none") -> None:
    global _configured
    if _configured or exporter == "none":
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "recourse"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        raise ValueError(f"RECOURSE_TRACE_EXPORTER: {exporter!r} is not none, console or otlp")
    trace.set_tracer_provider(provider)
    _configured = True


def traced_node(name: str, node: Callable) -> Callable:
    """Wrap a graph node in a span named after it, with the case id."""
    @functools.wraps(node)
    async def wrapper(state: dict[str, Any], runtime) -> dict[str, Any]:
        with tracer.start_as_current_span(f"node.{name}", attributes={"recourse.case_id": state.get("case_id", "")}):
            return await node(state, runtime)
    return wrapper


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
