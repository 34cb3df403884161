"""The executor: carries out gate-allowed actions through the action tools, one at a time, in plan order.

It never decides what to do; it only does what the gate allowed, with the action's idempotency key,
bounded retries and the tool's circuit breaker. It stops at the first action that cannot be done.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Awaitable, Callable

from langchain_core.tools import StructuredTool
from pydantic import BaseModel

from tools.errors import OpsConflict, OpsError
from tools.retry import Breakers, Sleep, call_with_retries


class ActionResult(BaseModel):
    index: int
    tool: str
    args: dict[str, Any]
    idempotency_key: str
    status: str  # succeeded | conflict | exhausted | failed
    attempts: list[dict[str, Any]]
    receipt: dict[str, Any] | None = None
    error: str | None = None


class Executor:
    def __init__(self, tools: dict[str, StructuredTool], breakers: Breakers, *, max_retries: int,
                 sleep: Sleep, base_delay_s: float):
        self.tools, self.breakers = tools, breakers
        self.max_retries, self.sleep, self.base_delay_s = max_retries, sleep, base_delay_s

    async def run(self, index: int, tool: str, args: dict[str, Any], key: str, *, already_made: int = 0,
                  after_failure: Callable[[Any], Awaitable[None]] | None = None) -> ActionResult:
        """`already_made`/`after_failure`: failed attempts counted durably by the caller, so the retry
        budget holds across a crash and resume."""
        async def call():
            return await self.tools[tool].ainvoke({**args, "idempotency_key": key})

        receipt, attempts, error = await call_with_retries(
            call, breaker=self.breakers[tool], retries=self.max_retries, sleep=self.sleep, base_delay_s=self.base_delay_s,
            already_made=already_made, after_failure=after_failure)
        return ActionResult(index=index, tool=tool, args=args, idempotency_key=key, status=_status(error),
                            attempts=[asdict(a) for a in attempts], error=str(error) if error else None,
                            receipt=receipt.model_dump() if receipt is not None else None)


def _status(error: OpsError | None) -> str:
    if error is None:
        return "succeeded"
    if isinstance(error, OpsConflict):
        return "conflict"
    return "exhausted" if error.retryable or error.code == "circuit_open" else "failed"
