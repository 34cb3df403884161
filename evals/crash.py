"""Crash-resume harness: run a scenario in a child process, SIGKILL it at a chosen point, run it again,
and check the resumed case ends exactly as an uninterrupted one, with no duplicate side effect.

Kill points: the entry of every graph node, and inside every action-tool call — before the call
reaches the backend, and after the backend applied it but before the reply came back. The child
installs them from outside (wrapping nodes and the simulator), so production code carries no hooks.

    python -m evals.crash child SCENARIO.yaml WORKDIR [POINT]   # one run; prints the points it passed
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from evals.grading import Observation, duplicate_count, grade
from evals.loader import load_scenario
from evals.scenario import Scenario


# -- the child ------------------------------------------------------------------------------------

class _Points:
    def __init__(self, crash_at: str | None):
        self.crash_at, self.seen, self.counts = crash_at, [], Counter()

    def passing(self, name: str) -> None:
        self.counts[name] += 1
        point = f"{name}#{self.counts[name]}"
        self.seen.append(point)
        if point == self.crash_at:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def _install(points: _Points) -> None:
    import graph.nodes as nodes
    from tools.sim.persist import PersistentSimulatedBackend

    for name in ("classify", "plan", "gate", "execute", "verify", "request_approval", "wait_for_approval", "escalate"):
        original = getattr(nodes, name)

        async def wrapped(state, runtime, _original=original, _name=name):
            points.passing(f"node:{_name}")
            return await _original(state, runtime)
        setattr(nodes, name, wrapped)

    original_act = PersistentSimulatedBackend._act

    async def act(self, tool, key, args, apply):
        points.passing(f"tool:{tool}:before")
        try:
            return await original_act(self, tool, key, args, apply)
        finally:
            if any(e["idempotency_key"] == key for e in self.effects):
                points.passing(f"tool:{tool}:applied")
    PersistentSimulatedBackend._act = act


async def _child(scenario_path: Path, workdir: Path, crash_at: str | None) -> dict:
    points = _Points(crash_at)
    _install(points)
    from graph.cases import open_case_service
    from tools.sim.persist import PersistentSimulatedBackend

    scenario = load_scenario(scenario_path)
    backend = PersistentSimulatedBackend.open(workdir / "sim", scenario.world, scenario.faults)
    try:
        async with open_case_service(backend, workdir, sleep=backend.sleep, embedded=True) as service:
            submission = await service.submit(scenario.event)
            final = await service.run(submission.case_id)
            audit = await service.store.audit_entries(submission.case_id)
    finally:
        print(json.dumps({"points": points.seen}), flush=True)
    allowed = sorted({e["payload"]["key"] for e in audit if e["kind"] == "gate.decision" and e["payload"]["disposition"] == "allowed"})
    return {"outcome": final.get("outcome"), "category": (final.get("classification") or {}).get("category"),
            "escalation": final.get("escalation"), "world": backend.snapshot(), "effects": backend.effects, "allowed": allowed}


def child_main(argv: list[str]) -> None:
    scenario, workdir, crash_at = Path(argv[0]), Path(argv[1]), argv[2] if len(argv) > 2 else None
    result = asyncio.run(_child(scenario, workdir, crash_at))
    print(json.dumps({"result": result}), flush=True)


# -- the parent -----------------------------------------------------------------------------------

@dataclass
class Run:
    killed: bool
    points: list[str]
    result: dict | None


def run_child(scenario_path: Path, workdir: Path, crash_at: str | None = None, timeout: float = 120) -> Run:
    done = subprocess.run([sys.executable, "-m", "evals.crash", "child", str(scenario_path), str(workdir)]
                          + ([crash_at] if crash_at else []), capture_output=True, text=True, timeout=timeout)
    points, result = [], None
    for line in done.stdout.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        points = message.get("points", points)
        result = message.get("result", result)
    if done.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-3000:]}")
    return Run(killed=done.returncode == -signal.SIGKILL, points=points, result=result)


@dataclass
class ScenarioReport:
    scenario_id: str
    kill_points: int = 0
    problems: list[str] = field(default_factory=list)


def check_scenario(scenario: Scenario, scenario_path: Path, workroot: Path) -> ScenarioReport:
    """Uninterrupted reference run, then one killed-and-resumed run per kill point the reference passed."""
    report = ScenarioReport(scenario.id)
    reference = run_child(scenario_path, workroot / "reference")
    expected = reference.result
    # Points after the graph reached its end (or its interrupt) exist only in the reference's own run.
    for point in reference.points:
        workdir = workroot / point.replace(":", "_").replace("#", "-")
        crashed = run_child(scenario_path, workdir, crash_at=point)
        if not crashed.killed:
            report.problems.append(f"{point}: the child was not killed there")
            continue
        resumed = run_child(scenario_path, workdir).result
        report.kill_points += 1
        seen = Observation(outcome=resumed["outcome"], category=resumed["category"], world=resumed["world"],
                           effects=resumed["effects"], allowed_keys=set(resumed["allowed"]), escalation=resumed["escalation"])
        graded = grade(scenario, seen)
        if resumed["outcome"] != expected["outcome"]:
            report.problems.append(f"{point}: outcome {resumed['outcome']} != uninterrupted {expected['outcome']}")
        if duplicate_count(resumed["effects"]):
            report.problems.append(f"{point}: {duplicate_count(resumed['effects'])} duplicate effect(s)")
        if [(e["tool"], e["args"]) for e in resumed["effects"]] != [(e["tool"], e["args"]) for e in expected["effects"]]:
            report.problems.append(f"{point}: effects differ from the uninterrupted run")
        if not graded.passed:
            report.problems.append(f"{point}: {graded.reasons}")
    return report


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m evals.crash child SCENARIO.yaml WORKDIR [POINT]")
