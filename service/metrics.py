"""Prometheus metrics of the service."""
from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge

CASES_SUBMITTED = Counter("recourse_cases_submitted_total", "Events admitted", ["verdict"])
CASES_FINISHED = Counter("recourse_cases_finished_total", "Cases that reached an outcome", ["outcome", "category"])
QUEUE_DEPTH = Gauge("recourse_queue_depth", "Cases accepted and not yet started")
REJECTED_FULL = Counter("recourse_submissions_rejected_total", "Submissions refused because the queue was full")


def observe_case(final: dict[str, Any]) -> None:
    outcome = final.get("outcome") or "unknown"
    category = (final.get("classification") or {}).get("category") or "unknown"
    CASES_FINISHED.labels(outcome=outcome, category=category).inc()
