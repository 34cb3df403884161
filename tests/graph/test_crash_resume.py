"""SIGKILL at every node boundary and inside every action call, then resume: same end, nothing twice.

One scenario with an applied-then-lost reply keeps this in the suite's time budget; bench/crash_resume.py
runs every scenario."""
from pathlib import Path

from evals.crash import check_scenario
from evals.loader import load_scenario
from tests.conftest import SCENARIOS


def test_every_kill_point_of_a_faulted_reassignment_resumes_cleanly(tmp_path):
    path = SCENARIOS / "pub-02-rotterdam-breakdown-liftgate-timeout.yaml"
    report = check_scenario(load_scenario(path), path, Path(tmp_path))
    assert report.kill_points >= 10  # every node entry plus before/after-apply of each action call
    assert report.problems == []
