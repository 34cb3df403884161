"""Prometheus metrics of the service and the graph (served at /metrics)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

CASES_SUBMITTED = Counter("recourse_cases_submitted_total", "Events admitted", ["verdict"])
CASES_FINISHED = Counter("recourse_cases_finished_total", "Cases that reached an outcome", ["outcome", "category"])
TIME_TO_REMEDIATION = Histogram("recourse_time_to_remediation_seconds", "From admission to outcome", ["outcome"],
                                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600))
QUEUE_DEPTH = Gauge("recourse_queue_depth", "Cases admitted and not yet started")
REJECTED_FULL = Counter("recourse_submissions_rejected_total", "Submissions refused because the queue was full")
GATE_DECISIONS = Counter("recourse_gate_decisions_total", "Gate decisions by tool, verdict and rule",
                         ["tool", "verdict", "rule"])
ACTION_ATTEMPTS = Counter("recourse_action_attempts_total", "Calls to action tools, retries included", ["tool", "result"])
RETRIES = Counter("recourse_action_retries_total", "Action calls beyond the first, per tool", ["tool"])
BREAKER_OPEN = Gauge("recourse_breaker_open", "1 while a tool's circuit breaker is open", ["tool"])
LLM_TOKENS = Counter("recourse_llm_tokens_total", "Tokens used by the LLM decision backend", ["kind"])


def observe_case(final: dict[str, Any], created_at: str | None = None) -> None:
    outcome = final.get("outcome") or "unknown"
    category = (final.get("classification") or {}).get("category") or "unknown"
    CASES_FINISHED.labels(outcome=outcome, category=category).inc()
    if created_at:
        elapsed = datetime.now(timezone.utc) - datetime.fromisoformat(created_at)
        TIME_TO_REMEDIATION.labels(outcome=outcome).observe(elapsed.total_seconds())


def observe_gate(decision: dict[str, Any]) -> None:
    verdict = decision["disposition"]
    reasons = decision["decision"]["deny"] + decision["decision"]["approval"]
    for rule in [r["rule"] for r in reasons] or ["-"]:
        GATE_DECISIONS.labels(tool=decision["tool"], verdict=verdict, rule=rule).inc()


def observe_action(result: dict[str, Any], breaker_state: str) -> None:
    tool = result["tool"]
    for attempt in result["attempts"]:
        ACTION_ATTEMPTS.labels(tool=tool, result=attempt["error"] or "ok").inc()
    if len(result["attempts"]) > 1:
        RETRIES.labels(tool=tool).inc(len(result["attempts"]) - 1)
    BREAKER_OPEN.labels(tool=tool).set(1 if breaker_state == "open" else 0)
