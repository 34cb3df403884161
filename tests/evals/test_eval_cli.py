"""`recourse eval` over the repo's scenarios: every one passes, and the JSON report has its documented keys."""
import json

from typer.testing import CliRunner

from cli import app
from tests.conftest import SCENARIOS


def test_eval_passes_every_repo_scenario_and_writes_json(tmp_path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", str(SCENARIOS), "--json", str(out)])
    report = json.loads(out.read_text())
    assert result.exit_code == 0, result.output
    assert set(report) >= {"scenarios", "passed", "pass_rate", "pass_hat_k", "policy_violations", "duplicate_effects", "results"}
    assert report["scenarios"] >= 24 and report["passed"] == report["scenarios"]
    assert report["policy_violations"] == 0 and report["duplicate_effects"] == 0
    assert {"id", "passed", "outcome", "reasons"} <= set(report["results"][0])


def test_eval_fails_with_exit_1_and_names_the_failing_scenario(tmp_path):
    scenario = (SCENARIOS / "pub-01-amsterdam-sick-reefer-reassign.yaml").read_text()
    (tmp_path / "wrong.yaml").write_text(scenario.replace("pickups.P1.driver_id: D5", "pickups.P1.driver_id: D2"))
    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 1
    assert "pickups.P1.driver_id" in result.output


def test_eval_rejects_an_unknown_key_naming_it(tmp_path):
    scenario = (SCENARIOS / "pub-01-amsterdam-sick-reefer-reassign.yaml").read_text()
    (tmp_path / "bad.yaml").write_text(scenario + "\npriority: urgent\n")
    result = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert result.exit_code == 2 and "priority: unknown key" in result.output
