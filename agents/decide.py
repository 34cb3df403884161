"""The decision-backend protocol: the one seam between deciding (rules or an LLM) and everything else.

A backend only proposes. Whatever it returns still passes the policy gate, the confidence threshold
and the verifier, so a wrong or manipulated backend cannot cause an unchecked action.
"""
from __future__ import annotations

from typing import Protocol

from agents.models import Classification, Event, Plan, PlanningInput
from tools.read import CaseFacts


class DecisionBackend(Protocol):
    name: str

    async def classify(self, event: Event, facts: CaseFacts) -> Classification: ...
    async def plan(self, planning: PlanningInput) -> Plan: ...


def make_backend(name: str = "rules") -> DecisionBackend:
    if name == "rules":
        from agents.rules import RulesBackend
        return RulesBackend()
    raise ValueError(f"unknown decision backend {name!r}; available: rules")
