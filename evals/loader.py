"""Loads scenario files and turns validation failures into messages that name the file and the field."""
from __future__ import annotations

from pathlib import Path

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: large worlds load 10x faster
from pydantic import ValidationError

from evals.scenario import Scenario


class ScenarioError(ValueError):
    pass


def _field(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def describe(error: ValidationError) -> str:
    lines = []
    for e in error.errors():
        where = _field(e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key")
        else:
            lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def load_scenario(path: Path) -> Scenario:
    try:
        raw = yaml.load(path.read_text(), Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping at the top level")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {describe(exc)}") from None


def load_directory(directory: Path) -> list[Scenario]:
    """Every *.yaml / *.yml below `directory`, sorted by path; ids must be unique."""
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: not a directory")
    paths = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    if not paths:
        raise ScenarioError(f"{directory}: no scenario files (*.yaml)")
    scenarios, errors, seen = [], [], {}
    for path in paths:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            errors.append(str(exc))
            continue
        if scenario.id in seen:
            errors.append(f"{path}: id {scenario.id!r} is also used by {seen[scenario.id]}")
        seen[scenario.id] = path
        scenarios.append(scenario)
    if errors:
        raise ScenarioError("\n".join(errors))
    return scenarios
