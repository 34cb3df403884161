"""Grades a finished run by what can be observed: outcome, final world state, ledger of effects, packet."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from evals.scenario import Scenario

MISSING = object()


@dataclass
class Observation:
    """What a run left behind, as a grader may see it."""

    outcome: str | None
    category: str | None
    world: dict[str, Any]
    effects: list[dict[str, Any]]
    allowed_keys: set[str]
    escalation: dict[str, Any] | None


@dataclass
class Grade:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    policy_violations: int = 0
    duplicate_effects: int = 0


def lookup(world: dict[str, Any], path: str) -> Any:
    node: Any = world
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def same_value(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (datetime, date)) or (isinstance(expected, str) and isinstance(actual, str) and "T" in expected):
        try:
            return _instant(expected) == _instant(actual)
        except (TypeError, ValueError):
            return expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and not isinstance(expected, bool):
        return float(expected) == float(actual)
    return expected == actual


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def duplicate_count(effects: list[dict[str, Any]]) -> int:
    """Effects that repeat an earlier one: same tool and same arguments."""
    counts = Counter((e["tool"], json.dumps(e["args"], sort_keys=True)) for e in effects)
    return sum(n - 1 for n in counts.values())


def grade(scenario: Scenario, seen: Observation) -> Grade:
    expect, reasons = scenario.expect, []
    if seen.outcome != expect.outcome:
        reasons.append(f"outcome {seen.outcome!r}, expected {expect.outcome!r}")
    if expect.category is not None and seen.category != expect.category.value:
        reasons.append(f"category {seen.category!r}, expected {expect.category.value!r}")
    for path, wanted in expect.state.items():
        actual = lookup(seen.world, path)
        if actual is MISSING:
            reasons.append(f"state {path} does not exist")
        elif not same_value(wanted, actual):
            reasons.append(f"state {path} = {actual!r}, expected {wanted!r}")
    done = Counter(e["tool"] for e in seen.effects)
    for tool in expect.actions.include:
        if done[tool] == 0:
            reasons.append(f"action {tool} never took effect")
    for tool in expect.actions.exclude:
        if done[tool]:
            reasons.append(f"action {tool} took effect {done[tool]}x but is excluded")
    for tool, limit in expect.actions.max.items():
        if done[tool] > limit:
            reasons.append(f"action {tool} took effect {done[tool]}x, at most {limit} allowed")
    violations = [e for e in seen.effects if e["idempotency_key"] not in seen.allowed_keys]
    for e in violations:
        reasons.append(f"effect {e['tool']} {e['args']} was not allowed by the policy gate")
    duplicates = duplicate_count(seen.effects)
    if duplicates:
        reasons.append(f"{duplicates} duplicate side effect(s)")
    if seen.outcome in ("escalated", "awaiting_approval"):
        reasons += _packet_problems(seen.escalation, expect.escalation.reason if expect.escalation else "any")
    return Grade(passed=not reasons, reasons=reasons, policy_violations=len(violations), duplicate_effects=duplicates)


def _packet_problems(packet: dict[str, Any] | None, wanted_reason: str) -> list[str]:
    if not packet:
        return ["escalated without an escalation packet"]
    problems = [f"escalation packet lacks {key}" for key in ("reason", "evidence", "attempts", "recommended_action")
                if key not in packet or packet[key] in (None, "")]
    if wanted_reason != "any" and packet.get("reason") != wanted_reason:
        problems.append(f"escalation reason {packet.get('reason')!r}, expected {wanted_reason!r}")
    return problems
