"""SIGKILL every scenario at every node boundary and inside every action-tool call, resume, compare.

For each scenario: an uninterrupted reference run records the kill points it passes; then, per
point, a child process is killed there and a second one resumes the case from its checkpoint. The
resumed case must end with the same outcome and the same effects, pass the scenario's grading,
and show no duplicate effect.

    python bench/crash_resume.py [DIR] [--jobs 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.crash import check_scenario  # noqa: E402
from evals.loader import load_directory  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", nargs="?", default="evals/scenarios", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    scenarios = load_directory(args.directory)
    paths = {p.stem: p for p in [*args.directory.rglob("*.yaml"), *args.directory.rglob("*.yml")]}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        reports = list(pool.map(lambda s: check_scenario(s, paths[s.id], Path(tmp) / s.id), scenarios))
    for report in reports:
        status = "ok" if not report.problems else "FAIL"
        print(f"{status:4} {report.scenario_id:55} {report.kill_points:3} kill points")
        for problem in report.problems:
            print(f"     {problem}")
    total = sum(r.kill_points for r in reports)
    failed = sum(bool(r.problems) for r in reports)
    print(f"\n{len(reports)} scenarios, {total} kill points tried, {failed} scenario(s) with problems, "
          f"{time.perf_counter() - started:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
