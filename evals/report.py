"""Summaries of eval runs: per scenario, totals, and pass^k (τ-bench: mean over scenarios of C(c,k)/C(n,k))."""
from __future__ import annotations

from collections import defaultdict
from math import comb
from typing import Any

from evals.runner import RunResult


def pass_hat_k(passes_per_scenario: dict[str, int], runs: int, k: int) -> float:
    if not passes_per_scenario:
        return 0.0
    return sum(comb(c, k) / comb(runs, k) for c in passes_per_scenario.values()) / len(passes_per_scenario)


def summarise(results: list[RunResult], runs: int) -> dict[str, Any]:
    by_scenario: dict[str, list[RunResult]] = defaultdict(list)
    for r in results:
        by_scenario[r.scenario_id].append(r)
    passes = {sid: sum(r.grade.passed for r in rs) for sid, rs in by_scenario.items()}
    rows = []
    for sid, rs in by_scenario.items():
        failing = next((r for r in rs if not r.grade.passed), rs[0])
        rows.append({"id": sid, "passed": passes[sid] == len(rs), "runs_passed": passes[sid], "outcome": failing.outcome,
                     "reasons": failing.grade.reasons, "seconds": round(sum(r.seconds for r in rs) / len(rs), 4)})
    total = len(by_scenario)
    passed = sum(1 for row in rows if row["passed"])
    return {
        "scenarios": total,
        "runs": runs,
        "passed": passed,
        "pass_rate": passed / total if total else 0.0,
        "pass_hat_k": {str(k): pass_hat_k(passes, runs, k) for k in range(1, runs + 1)},
        "policy_violations": sum(r.grade.policy_violations for r in results),
        "duplicate_effects": sum(r.grade.duplicate_effects for r in results),
        "results": rows,
    }
