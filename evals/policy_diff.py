"""Replays scenarios under two policy versions and lists every gate decision that changes: the review
step before a policy change lands."""
from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evals.runner import observe_case
from evals.scenario import Scenario
from guardrails.gate import RegoGate
from guardrails.policy_files import POLICY_DIR, PolicySet


def materialise(version: str, into: Path) -> Path:
    """A policy version as a directory: an existing directory as is, otherwise a git revision of the
    repo's guardrails/policies."""
    if Path(version).is_dir():
        return Path(version)
    repo = POLICY_DIR.parent.parent
    relative = POLICY_DIR.relative_to(repo)
    archive = subprocess.run(["git", "-C", str(repo), "archive", version, str(relative)], capture_output=True)
    if archive.returncode != 0:
        raise ValueError(f"{version!r} is neither a policy directory nor a git revision: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / relative


@dataclass
class Decision:
    tool: str
    args: str
    disposition: str
    rules: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.tool, self.args


@dataclass
class Change:
    scenario_id: str
    what: str


async def decisions_under(policies: PolicySet, scenario: Scenario, workdir: Path) -> tuple[str, list[Decision]]:
    final, audit = await observe_case(scenario, workdir, gate=RegoGate(policies))
    found = []
    for entry in audit:
        if entry["kind"] == "gate.decision":
            p = entry["payload"]
            rules = tuple(sorted(r["rule"] for r in p["decision"]["deny"] + p["decision"]["approval"]))
            found.append(Decision(p["tool"], _args(p["args"]), p["disposition"], rules))
    return final.get("outcome"), found


def _args(args: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(args.items()) if k not in ("message", "reason"))


async def diff(old: PolicySet, new: PolicySet, scenarios: list[Scenario]) -> list[Change]:
    changes: list[Change] = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in scenarios:
            old_outcome, before = await decisions_under(old, scenario, Path(tmp) / "old" / scenario.id)
            new_outcome, after = await decisions_under(new, scenario, Path(tmp) / "new" / scenario.id)
            if old_outcome != new_outcome:
                changes.append(Change(scenario.id, f"outcome {old_outcome} -> {new_outcome}"))
            first = {d.key: d for d in before}
            second = {d.key: d for d in after}
            for key in [*first, *[k for k in second if k not in first]]:
                a, b = first.get(key), second.get(key)
                if a is None:
                    changes.append(Change(scenario.id, f"{b.tool}({b.args}): newly proposed, {b.disposition} {list(b.rules)}"))
                elif b is None:
                    changes.append(Change(scenario.id, f"{a.tool}({a.args}): no longer proposed (was {a.disposition})"))
                elif (a.disposition, a.rules) != (b.disposition, b.rules):
                    changes.append(Change(scenario.id, f"{a.tool}({a.args}): {a.disposition} {list(a.rules)} -> "
                                                       f"{b.disposition} {list(b.rules)}"))
    return changes
