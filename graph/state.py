"""The typed state of one case as it moves through the graph (checkpointed after every node)."""
from __future__ import annotations

from typing import Any, TypedDict


class CaseState(TypedDict, total=False):
    case_id: str
    event: dict[str, Any]
    classification: dict[str, Any]
    plan: dict[str, Any]
    plan_revision: int
    excluded: list[str]             # options ruled out by a deny or a conflict, e.g. "reassign_driver:D2"
    decisions: list[dict[str, Any]]  # one per action of the current plan: disposition + gate decision
    results: list[dict[str, Any]]    # every execution result of the case, in order
    approval: dict[str, Any] | None  # the dispatcher's answer, with the keys it covers
    verification: dict[str, Any]
    escalate_reason: str | None      # set by the node that found the case cannot go on alone
    halted: str | None               # "paused": execution stopped because a pause switch came on
    outcome: str                     # resolved | escalated | awaiting_approval | paused | shadowed
    escalation: dict[str, Any]       # the packet a human acts on
