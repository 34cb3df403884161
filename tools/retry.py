"""Bounded retries with exponential backoff, and a circuit breaker per tool.

Retries reuse the caller's idempotency key, so a retry after a lost reply cannot apply twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from tools.errors import CircuitOpen, OpsError, OpsUnavailable

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one trial call through after `cooldown_s`."""

    tool: str
    threshold: int = 5
    cooldown_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.cooldown_s else "open"

    def check(self) -> None:
        if self.state == "open":
            raise CircuitOpen(self.tool, f"{self.failures} consecutive failures")

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold or self.state == "half_open":
            self.opened_at = self.clock()


@dataclass
class Breakers:
    threshold: int = 5
    cooldown_s: float = 30.0
    by_tool: dict[str, CircuitBreaker] = field(default_factory=dict)

    def __getitem__(self, tool: str) -> CircuitBreaker:
        if tool not in self.by_tool:
            self.by_tool[tool] = CircuitBreaker(tool, self.threshold, self.cooldown_s)
        return self.by_tool[tool]


@dataclass
class Attempt:
    number: int
    error: str | None = None
    detail: str | None = None


async def call_with_retries(call: Callable[[], Awaitable[Any]], *, breaker: CircuitBreaker, retries: int,
                            sleep: Sleep, base_delay_s: float, already_made: int = 0,
                            after_failure: Callable[[Attempt], Awaitable[None]] | None = None,
                            ) -> tuple[Any, list[Attempt], OpsError | None]:
    """Run `call` at most 1 + `retries` times in all, counting `already_made` failed attempts (made by an
    earlier run that crashed). `after_failure` is where the caller makes each failure durable, so a
    restart cannot reset the budget; an attempt cut short by the crash itself is not counted, so each
    crash can add at most one call. Returns (result, attempts, final error)."""
    attempts: list[Attempt] = []
    if already_made > retries:
        return None, attempts, _exhausted(breaker.tool, already_made)
    for number in range(already_made + 1, retries + 2):
        try:
            breaker.check()
            result = await call()
        except OpsError as exc:
            if not isinstance(exc, CircuitOpen):
                breaker.record(ok=False)
            attempts.append(Attempt(number, exc.code, exc.detail))
            if after_failure is not None:
                await after_failure(attempts[-1])
            if not exc.retryable or number > retries:
                return None, attempts, exc
            await sleep(base_delay_s * 2 ** (number - 1))
            continue
        breaker.record(ok=True)
        attempts.append(Attempt(number))
        return result, attempts, None
    raise AssertionError("unreachable")


def _exhausted(tool: str, made: int) -> OpsError:
    return OpsUnavailable(tool, f"retry budget spent: {made} failed attempts before a restart")
