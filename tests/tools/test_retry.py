"""Retries are bounded, back off exponentially, and a breaker stops calling a failing tool."""
from tools.errors import OpsConflict, OpsUnavailable
from tools.retry import CircuitBreaker, call_with_retries


class Flaky:
    def __init__(self, failures, error=OpsUnavailable):
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("t")
        return "ok"


async def test_succeeds_on_third_attempt_with_exponential_backoff():
    slept = []

    async def sleep(s):
        slept.append(s)

    result, attempts, error = await call_with_retries(Flaky(2), breaker=CircuitBreaker("t"), retries=2, sleep=sleep, base_delay_s=0.5)
    assert (result, error) == ("ok", None)
    assert [a.error for a in attempts] == ["unavailable", "unavailable", None]
    assert slept == [0.5, 1.0]


async def test_gives_up_after_two_retries():
    call = Flaky(10)

    async def sleep(_):
        pass

    result, attempts, error = await call_with_retries(call, breaker=CircuitBreaker("t"), retries=2, sleep=sleep, base_delay_s=0)
    assert result is None and error.code == "unavailable"
    assert call.calls == 3 and len(attempts) == 3


async def test_conflict_is_not_retried():
    call = Flaky(1, OpsConflict)

    async def sleep(_):
        pass

    _, attempts, error = await call_with_retries(call, breaker=CircuitBreaker("t"), retries=2, sleep=sleep, base_delay_s=0)
    assert call.calls == 1 and error.code == "conflict"


async def test_open_breaker_stops_calls_until_cooldown():
    now = [0.0]
    breaker = CircuitBreaker("t", threshold=3, cooldown_s=10, clock=lambda: now[0])
    call = Flaky(100)

    async def sleep(_):
        pass

    await call_with_retries(call, breaker=breaker, retries=2, sleep=sleep, base_delay_s=0)
    assert breaker.state == "open" and call.calls == 3
    _, attempts, error = await call_with_retries(call, breaker=breaker, retries=2, sleep=sleep, base_delay_s=0)
    assert call.calls == 3 and error.code == "circuit_open"
    now[0] = 11
    assert breaker.state == "half_open"
    call.failures = 0
    result, _, _ = await call_with_retries(call, breaker=breaker, retries=2, sleep=sleep, base_delay_s=0)
    assert result == "ok" and breaker.state == "closed"


async def test_attempts_made_before_a_restart_count_against_the_budget():
    call = Flaky(10)
    counted = []

    async def sleep(_):
        pass

    async def after_failure(attempt):
        counted.append(attempt.number)

    _, attempts, error = await call_with_retries(call, breaker=CircuitBreaker("t"), retries=2, sleep=sleep, base_delay_s=0,
                                                 already_made=2, after_failure=after_failure)
    assert call.calls == 1 and counted == [3] and error.code == "unavailable"
    _, attempts, error = await call_with_retries(call, breaker=CircuitBreaker("t"), retries=2, sleep=sleep, base_delay_s=0,
                                                 already_made=3)
    assert call.calls == 1 and attempts == [] and "retry budget spent" in str(error)
