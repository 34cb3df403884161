"""Scenario files are read exactly as FORMAT.md defines them; mistakes are named."""
import pytest
import yaml

from evals.loader import ScenarioError, load_directory, load_scenario


def write(tmp_path, raw, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def test_valid_scenario_loads(tmp_path, base_raw):
    assert load_scenario(write(tmp_path, base_raw)).event.pickup_id == "P1"


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.update(surprise=1), "surprise: unknown key"),
    (lambda r: r["world"]["drivers"][1].update(colour="red"), "world.drivers[1].colour: unknown key"),
    (lambda r: r["event"].update(type="alien_landing"), "event.type"),
    (lambda r: r.update(format=2), "format"),
    (lambda r: r["expect"].update(outcome="escalated"), "expect.escalation is required"),
    (lambda r: r["event"].update(pickup_id="P404"), "event.pickup_id 'P404'"),
    (lambda r: r.update(faults=[{"tool": "reassign_driver", "call": 0, "error": "timeout"}]), "faults[0].call"),
])
def test_mistakes_name_the_field(tmp_path, base_raw, mutate, message):
    mutate(base_raw)
    with pytest.raises(ScenarioError) as error:
        load_scenario(write(tmp_path, base_raw))
    assert message in str(error.value)


def test_directory_reports_every_bad_file_and_duplicate_ids(tmp_path, base_raw):
    write(tmp_path, base_raw, "a.yaml")
    write(tmp_path, base_raw, "b.yaml")
    (tmp_path / "c.yaml").write_text("format: [unclosed")
    with pytest.raises(ScenarioError) as error:
        load_directory(tmp_path)
    assert "also used by" in str(error.value) and "c.yaml: not valid YAML" in str(error.value)


def test_empty_directory_is_an_error(tmp_path):
    with pytest.raises(ScenarioError, match="no scenario files"):
        load_directory(tmp_path)
