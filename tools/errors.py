"""Errors an operations backend raises, split by what the executor may do about them."""
from __future__ import annotations


class OpsError(Exception):
    """Base class; `retryable` tells the executor whether the same call may be tried again."""

    retryable = False
    code = "error"

    def __init__(self, tool: str, detail: str = ""):
        self.tool = tool
        self.detail = detail
        super().__init__(f"{tool}: {self.code}{': ' + detail if detail else ''}")


class OpsTimeout(OpsError):
    retryable = True
    code = "timeout"


class OpsUnavailable(OpsError):
    retryable = True
    code = "unavailable"


class OpsConflict(OpsError):
    """The system of record changed under us; the plan must be made again from fresh reads."""

    code = "conflict"


class OpsNotFound(OpsError):
    code = "not_found"


class CircuitOpen(OpsError):
    """Raised locally, without calling the backend, while a tool's breaker is open."""

    code = "circuit_open"
