"""Operators see each case as spans, metrics and JSON log lines — and never a customer's contact details."""
import json
import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.api.conftest import api_for  # noqa: F401 - fixture
from tests.api.test_service import AMS, event

EXPORTER = InMemorySpanExporter()
if not isinstance(trace.get_tracer_provider(), TracerProvider):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)


def test_a_case_leaves_spans_metrics_and_clean_logs(api_for, caplog):
    caplog.set_level(logging.INFO)
    EXPORTER.clear()
    api = api_for()
    note = "Call me on +31 6 1234 5678 or mail jan.devries@example.nl - D1 is sick"
    case_id = api.submit(event(AMS, note=note)).json()["case_id"]
    assert api.wait(case_id)["status"] == "resolved"

    names = [s.name for s in EXPORTER.get_finished_spans()]
    assert {"case", "node.classify", "node.plan", "node.gate", "node.execute", "node.verify",
            "gate.decision", "tool.reassign_driver", "tool.notify_customer"} <= set(names)
    case_span = next(s for s in EXPORTER.get_finished_spans() if s.name == "case")
    assert case_span.attributes["recourse.case_id"] == case_id
    tool_span = next(s for s in EXPORTER.get_finished_spans() if s.name == "tool.notify_customer")
    assert tool_span.context.trace_id == case_span.context.trace_id and tool_span.attributes["recourse.attempts"] == 3

    exposition = api.client.get("/metrics").text
    assert 'recourse_cases_finished_total{category="driver_unavailable",outcome="resolved"}' in exposition
    assert 'recourse_gate_decisions_total{rule="-",tool="reassign_driver",verdict="allowed"}' in exposition
    assert 'recourse_action_retries_total{tool="notify_customer"}' in exposition
    assert "recourse_time_to_remediation_seconds_bucket" in exposition

    logged = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    finished = [entry for entry in logged if entry.get("event") == "case.finished"]
    assert finished and finished[0]["case_id"] == case_id and len(finished[0]["trace_id"]) == 32
    everything = json.dumps(logged)
    assert "1234 5678" not in everything and "example.nl" not in everything and "sick" not in everything
