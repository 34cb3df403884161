"""Structured JSON logs (structlog) carrying the case id and the trace id; never free text from notes."""
from __future__ import annotations

import logging

import structlog

from observability.tracing import current_trace_id


def _add_trace_id(_, __, event: dict) -> dict:
    trace_id = current_trace_id()
    if trace_id:
        event["trace_id"] = trace_id
    return event


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", level=level)
    for chatty in ("httpx", "httpcore", "openai"):  # one line per HTTP call to the operations backend is noise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), _add_trace_id,
                    structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("recourse")
