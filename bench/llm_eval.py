"""Eval of the hybrid / LLM decision backends over evals/scenarios, replaying recorded LLM calls (vcrpy).

Same graph, same simulated backend, same grading as `recourse eval`; adds the LLM calls per case, who
decided each classification and plan (rules or LLM), the fallbacks, and the recorded server time per call.

    python bench/llm_eval.py [--backend hybrid|llm] [--scenarios DIR] [--match GLOB] [--json PATH]   # replay
    RECOURSE_RECORD=1 python bench/llm_eval.py --backend hybrid           # re-record against a real model

Recording starts the local llama-server (agents/local_llm.py) unless RECOURSE_LLM_BASE_URL names a server.
Exit 1 on a policy violation, a duplicate effect, a routine case with more than 2 LLM calls, or any LLM call
in a case the rules were confident about. Graded failures are reported, not fatal: the recorded model is
SmolLM2-135M, there to exercise the real path, not to judge quality.
"""
from __future__ import annotations

import argparse
import asyncio
import fnmatch
import functools
import inspect
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import evals.runner as runner  # noqa: E402
from agents.hybrid import HybridBackend  # noqa: E402
from agents.models import Classification, Event, Plan, PlanningInput  # noqa: E402
from evals.loader import load_directory  # noqa: E402
from evals.report import summarise  # noqa: E402
from settings import Settings  # noqa: E402
from tests.agents.cassettes import MODEL, RECORDING, REPLAY_BASE_URL, cassette, llm_server  # noqa: E402
from tools.read import CaseFacts  # noqa: E402
from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: E402

ROUTINE_BUDGET = 2


class Tally(HybridBackend):
    """The hybrid backend, keeping every decided_by it hands out."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.decisions: list[tuple[str, dict[str, Any]]] = []

    async def classify(self, event: Event, facts: CaseFacts) -> Classification:
        result = await super().classify(event, facts)
        self.decisions.append(("classify", result.decided_by or {}))
        return result

    async def plan(self, planning: PlanningInput) -> Plan:
        result = await super().plan(planning)
        self.decisions.append(("plan", result.decided_by or {}))
        return result


async def run_one(scenario, decider: Tally, workdir: Path) -> runner.RunResult:
    if "decider" in inspect.signature(runner.run_scenarios).parameters:
        return (await runner.run_scenarios([scenario], workdir=workdir, decider=decider))[0]
    original = runner.open_case_service  # until evals/runner.py passes a decider through
    runner.open_case_service = functools.partial(original, decider=decider)
    try:
        return (await runner.run_scenarios([scenario], workdir=workdir))[0]
    finally:
        runner.open_case_service = original


async def evaluate(backend: str, base_url: str, scenarios_dir: Path, workdir: Path, match: str = "*") -> dict[str, Any]:
    # recording on a busy 2-core machine can take minutes per call; the timeout is not part of the recorded request
    settings = Settings(llm_base_url=base_url, llm_model=MODEL, llm_timeout_s=900 if RECORDING else 120, llm_max_tokens=256)
    results, rows, unrecorded = [], [], []
    for scenario in [s for s in load_directory(scenarios_dir) if fnmatch.fnmatch(s.id, match)]:
        decider = Tally.from_settings(settings, always=backend == "llm")
        try:
            with cassette(f"evals/{backend}/{scenario.id}"):
                result = await run_one(scenario, decider, workdir / scenario.id)
        except CannotOverwriteExistingCassetteException:
            unrecorded.append(scenario.id)  # needs a model answer that was never recorded: not graded
            continue
        finally:
            await decider.aclose()
        results.append(result)
        calls = [d.get("llm") for _, d in decider.decisions if d.get("llm")]
        rules_sure = all(d.get("why") == "the rules are confident" for _, d in decider.decisions)
        rows.append({
            "id": scenario.id, "passed": result.grade.passed, "outcome": result.outcome,
            "llm_calls": decider.llm.calls, "rules_confident": rules_sure,
            "decided": [f"{step}:{d.get('backend', 'rules')}" for step, d in decider.decisions],
            "fallbacks": [f"{step}:{d['why']}" + (f" ({'; '.join(d['rejected'])})" if d.get("rejected") else "")
                          for step, d in decider.decisions if d.get("llm") and d.get("backend") == "rules"],
            "server_ms": [c["server_ms"] for c in calls if c.get("server_ms") is not None],
            "tokens": [(c.get("prompt_tokens"), c.get("completion_tokens")) for c in calls],
            "reasons": result.grade.reasons})
    if not rows:
        raise SystemExit(f"no scenario of {scenarios_dir} matching {match!r} could be replayed")
    report = summarise(results, runs=1)
    server_ms = [ms for row in rows for ms in row["server_ms"]]
    routine = [row for row in rows if len(row["decided"]) <= 2]  # one classification, one plan: no re-plan
    report.update({
        "backend": backend, "model": MODEL, "unrecorded": unrecorded,
        "llm_calls": sum(r["llm_calls"] for r in rows),
        "llm_calls_per_case": {"mean": round(statistics.mean(r["llm_calls"] for r in rows), 3),
                               "max": max(r["llm_calls"] for r in rows),
                               "when_rules_confident": sum(r["llm_calls"] for r in rows if r["rules_confident"])},
        "routine_max_calls": max((r["llm_calls"] for r in routine), default=0),
        "over_budget": [r["id"] for r in rows if r["llm_calls"] > len(r["decided"])]
                       + [r["id"] for r in routine if r["llm_calls"] > ROUTINE_BUDGET],
        "decided_by_llm": sum(d.endswith(":llm") for r in rows for d in r["decided"]),
        "server_ms_per_call": ({"p50": round(statistics.median(server_ms), 1), "max": max(server_ms), "n": len(server_ms)}
                               if server_ms else None),
        "cases": rows,
    })
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("hybrid", "llm"), default="hybrid")
    parser.add_argument("--scenarios", type=Path, default=REPO / "evals" / "scenarios")
    parser.add_argument("--match", default="*", help="only scenario ids matching this glob, e.g. 'pub-*'")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="recourse-llm-eval-") as tmp:
        if RECORDING:
            with llm_server() as url:
                report = asyncio.run(evaluate(args.backend, url, args.scenarios, Path(tmp), args.match))
        else:
            report = asyncio.run(evaluate(args.backend, REPLAY_BASE_URL, args.scenarios, Path(tmp), args.match))
    for row in report["cases"]:
        mark = "pass" if row["passed"] else "FAIL"
        print(f"{mark} {row['id']:<48} {str(row['outcome']):<18} llm_calls={row['llm_calls']} "
              f"decided={','.join(row['decided'])}" + (f"  fallbacks={row['fallbacks']}" if row["fallbacks"] else "")
              + (f"  why not: {'; '.join(row['reasons'])}" if row["reasons"] else ""))
    per_case = report["llm_calls_per_case"]
    if report["unrecorded"]:
        print(f"not graded, no recording (re-record with RECOURSE_RECORD=1): {', '.join(report['unrecorded'])}")
    print(f"\nbackend={report['backend']} model={report['model']} {report['passed']}/{report['scenarios']} passed "
          f"policy_violations={report['policy_violations']} duplicate_effects={report['duplicate_effects']}")
    print(f"llm_calls={report['llm_calls']} per_case_mean={per_case['mean']} per_case_max={per_case['max']} "
          f"routine_max={report['routine_max_calls']} calls_when_rules_confident={per_case['when_rules_confident']} decisions_by_llm={report['decided_by_llm']} "
          f"server_ms_per_call={report['server_ms_per_call']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    bad = report["policy_violations"] or report["duplicate_effects"] or report["over_budget"] or per_case["when_rules_confident"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
