"""A storm: the operations backend goes fully unavailable mid-run, then comes back.

Breakers open after `threshold` consecutive failures, so the outage costs a handful of backend calls,
not three per case; no action is tried more than 1 + max_retries times; cases caught in the outage
escalate (retries_exhausted) instead of hanging; nothing takes effect twice; cases after the outage
resolve. The breakers run on a clock the test moves (backoff sleeps move it too), so the cooldown
passes without waiting for it.
"""
from __future__ import annotations

import asyncio
from collections import Counter

from agents.models import Event
from evals.fleet import fleet_event, fleet_world
from evals.grading import duplicate_count
from graph.cases import open_case_service
from service.work import Workers
from tools.domain import World
from tools.retry import CircuitBreaker
from tools.sim import SimulatedBackend
from tools.sim.faults import ACTION_TOOLS


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class StormBackend(SimulatedBackend):
    """The outage begins right after the reassignment of `storm_starts_after` took effect: mid-case."""

    storm_starts_after: str | None = None

    async def reassign_driver(self, pickup_id: str, driver_id: str, *, idempotency_key: str):
        receipt = await super().reassign_driver(pickup_id, driver_id, idempotency_key=idempotency_key)
        if pickup_id == self.storm_starts_after:
            self.outage = True
        return receipt


def storm_service(backend: SimulatedBackend, tmp_path, clock: Clock):
    async def sleep(seconds: float) -> None:
        clock.now += seconds
        await backend.sleep(seconds)

    return open_case_service(backend, tmp_path, sleep=sleep)


def use_clock(service, clock: Clock):
    breakers = service.deps.executor.breakers
    for tool in ACTION_TOOLS:
        breakers.by_tool[tool] = CircuitBreaker(tool, breakers.threshold, breakers.cooldown_s, clock=clock)
    return breakers


def attempts_of(final: dict) -> list[int]:
    return [len(r["attempts"]) for r in final.get("results", [])]


def backend_calls(backend: SimulatedBackend) -> int:
    return sum(backend.calls.values())


async def test_an_outage_mid_run_opens_breakers_escalates_and_recovers(tmp_path):
    backend, clock = StormBackend(World.model_validate(fleet_world(30))), Clock()
    backend.storm_starts_after = "P5"
    async with storm_service(backend, tmp_path, clock) as service:
        breakers = use_clock(service, clock)
        bound = 1 + service.deps.config["max_retries_per_action"]

        async def handle(i: int) -> dict:
            submission = await service.submit(Event.model_validate(fleet_event(i)))
            return await service.run(submission.case_id)

        before = [await handle(i) for i in range(5)]
        calls_at_start = backend_calls(backend)
        straddling = await handle(5)  # reassigned, then the backend went down before the notification
        during = [await handle(i) for i in range(6, 15)]
        clock.now += breakers.cooldown_s  # a long outage: the breakers let one trial call through
        during += [await handle(i) for i in range(15, 25)]
        calls_in_outage = backend_calls(backend) - calls_at_start
        states_in_outage = {tool: breakers[tool].state for tool in ("reassign_driver", "notify_customer")}
        assert backend.outage
        backend.outage = False
        clock.now += breakers.cooldown_s
        after = [await handle(i) for i in range(25, 30)]

        statuses = Counter([(await service.store.get_case(f"case-EVT-{i}")).status for i in range(30)])

    assert [f["outcome"] for f in before + after] == ["resolved"] * 10
    assert straddling["outcome"] == "escalated" and straddling["escalation"]["reason"] == "retries_exhausted"
    assert [(r["tool"], r["status"]) for r in straddling["results"]] == [("reassign_driver", "succeeded"),
                                                                         ("notify_customer", "exhausted")]
    assert all(f["outcome"] == "escalated" and f["escalation"]["reason"] == "retries_exhausted" for f in during)
    assert statuses == {"resolved": 10, "escalated": 20}  # none left running or queued

    every = [n for f in before + [straddling] + during + after for n in attempts_of(f)]
    assert max(every) <= bound == 3
    # The outage cost: the straddling case's notification (tried `bound` times), the reassignment breaker
    # opening on its `threshold`-th straight failure, and one trial call once its cooldown had passed.
    # Every other attempt was refused locally, without calling the backend: no retry storm.
    errors = Counter(a["error"] for f in [straddling] + during for r in f["results"] for a in r["attempts"])
    assert errors["unavailable"] == bound + breakers.threshold + 1
    assert calls_in_outage == 1 + errors["unavailable"]  # 1: the reassignment just before the outage
    assert errors["circuit_open"] == len(during) - 1  # one refusal per case, except the first (3 real attempts)
    assert states_in_outage == {"reassign_driver": "open", "notify_customer": "closed"}
    assert all(b.state == "closed" for b in breakers.by_tool.values())  # the first calls after it closed them

    keys = [e["idempotency_key"] for e in backend.effects]
    assert duplicate_count(backend.effects) == 0 and len(keys) == len(set(keys))
    assert Counter(e["tool"] for e in backend.effects) == {"reassign_driver": 11, "notify_customer": 10}


async def test_concurrent_workers_ride_out_an_outage(tmp_path):
    """Eight workers, cases in flight when the backend is already down: the same bounds hold."""
    backend, clock = SimulatedBackend(World.model_validate(fleet_world(48))), Clock()
    async with storm_service(backend, tmp_path, clock) as service:
        breakers = use_clock(service, clock)
        workers = Workers(service, count=8, lease_s=30, idle_poll_s=0.01)
        await workers.start()

        async def run_batch(indices: range) -> list[str]:
            ids = [(await service.submit(Event.model_validate(fleet_event(i)))).case_id for i in indices]
            workers.notify()
            for _ in range(2000):
                rows = [await service.store.get_case(case_id) for case_id in ids]
                if all(r.status in ("resolved", "escalated", "failed") and r.lease_owner is None for r in rows):
                    return [r.status for r in rows]
                await asyncio.sleep(0.01)
            raise AssertionError(f"cases still open: {Counter(r.status for r in rows)}")

        try:
            backend.outage = True
            in_outage = await run_batch(range(0, 24))
            calls_in_outage = backend_calls(backend)
            backend.outage = False
            clock.now += breakers.cooldown_s
            recovered = await run_batch(range(24, 48))
            finals = [await service.state(f"case-EVT-{i}") for i in range(48)]
        finally:
            await workers.stop()

    assert set(in_outage) == {"escalated"} and set(recovered) == {"resolved"}
    assert all(f["escalation"]["reason"] == "retries_exhausted" for f in finals[:24])
    assert max(n for f in finals for n in attempts_of(f)) <= 3
    # before the breaker opened, each of the 8 workers may have had one call past the check
    assert calls_in_outage <= breakers.threshold + 8
    assert duplicate_count(backend.effects) == 0
    assert Counter(e["tool"] for e in backend.effects) == {"reassign_driver": 24, "notify_customer": 24}
