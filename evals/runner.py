"""Replays scenarios through the same case service a deployment runs, on the simulated backend."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agents.decide import DecisionBackend
from evals.grading import Grade, Observation, grade
from evals.scenario import Scenario
from graph.cases import gate_from_settings, open_case_service
from tools.sim import SimulatedBackend


@dataclass
class RunResult:
    scenario_id: str
    run: int
    grade: Grade
    outcome: str | None
    seconds: float


async def observe_case(scenario: Scenario, workdir: Path, backend: SimulatedBackend | None = None, **service_options):
    """Submit the scenario's event and run it to the end (or to an approval); returns (final state, audit).
    `service_options` go to `open_case_service` (a gate, a decision backend)."""
    backend = backend or SimulatedBackend(scenario.world, scenario.faults)
    async with open_case_service(backend, workdir, sleep=backend.sleep, embedded=True, **service_options) as service:
        submission = await service.submit(scenario.event)
        final = await service.run(submission.case_id)
        return final, await service.store.audit_entries(submission.case_id)


async def observe(scenario: Scenario, workdir: Path, **service_options) -> Observation:
    backend = SimulatedBackend(scenario.world, scenario.faults)
    final, audit = await observe_case(scenario, workdir, backend, **service_options)
    allowed = {e["payload"]["key"] for e in audit if e["kind"] == "gate.decision" and e["payload"]["disposition"] == "allowed"}
    return Observation(outcome=final.get("outcome"), category=(final.get("classification") or {}).get("category"),
                       world=backend.snapshot(), effects=list(backend.effects), allowed_keys=allowed,
                       escalation=final.get("escalation"))


async def run_scenarios(scenarios: list[Scenario], runs: int = 1, workdir: Path | None = None,
                        on_result: Callable[[RunResult], None] | None = None,
                        decider: DecisionBackend | None = None) -> list[RunResult]:
    results: list[RunResult] = []
    gate = gate_from_settings()  # once: an OPA gate checks the server's policies when it is made
    with tempfile.TemporaryDirectory(prefix="recourse-eval-") as tmp:
        root = Path(workdir or tmp)
        for run in range(1, runs + 1):
            for scenario in scenarios:
                started = time.perf_counter()
                seen = await observe(scenario, root / f"run-{run}" / scenario.id, gate=gate, decider=decider)
                result = RunResult(scenario.id, run, grade(scenario, seen), seen.outcome, time.perf_counter() - started)
                results.append(result)
                if on_result:
                    on_result(result)
    return results
