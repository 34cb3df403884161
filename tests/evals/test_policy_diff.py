"""`recourse policy diff` names exactly the decisions a policy change alters."""
import shutil

from typer.testing import CliRunner

from cli import app
from guardrails.policy_files import POLICY_DIR
from tests.conftest import SCENARIOS


def test_lowering_the_credit_limit_changes_exactly_the_credits_between_the_limits(tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for stem in ("pub-03-hamburg-priority-reschedule-credit", "rc-09-saopaulo-priority-credit-100-rounding",
                 "pub-01-amsterdam-sick-reefer-reassign", "rc-33-osaka-missed-yesterday-credit-no-notify"):
        shutil.copy(SCENARIOS / f"{stem}.yaml", scenarios)
    proposed = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, proposed)
    data = proposed / "data.json"
    data.write_text(data.read_text().replace('"credit_autonomous_limit_usd": 100', '"credit_autonomous_limit_usd": 50'))
    result = CliRunner().invoke(app, ["policy", "diff", str(POLICY_DIR), str(proposed), "--scenarios", str(scenarios)])
    assert result.exit_code == 0, result.output
    changed = {line.split(":")[0] for line in result.output.splitlines() if "held ['credit.over_limit']" in line}
    assert changed == {"pub-03-hamburg-priority-reschedule-credit", "rc-09-saopaulo-priority-credit-100-rounding"}
    assert "4 changed decision(s) in 2 scenario(s)" in result.output


def test_unknown_version_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["policy", "diff", "no-such-rev", str(POLICY_DIR), "--scenarios", str(SCENARIOS)])
    assert result.exit_code == 2 and "neither a policy directory nor a git revision" in result.output
