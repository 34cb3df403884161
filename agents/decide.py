"""The decision-backend protocol: the one seam between deciding (rules or an LLM) and everything else.

A backend only proposes. Whatever it returns still passes the policy gate, the confidence threshold
and the verifier, so a wrong or manipulated backend cannot cause an unchecked action.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from agents.models import Classification, Event, Plan, PlanningInput
from tools.read import CaseFacts

if TYPE_CHECKING:
    from settings import Settings

BACKENDS = ("auto", "rules", "hybrid", "llm")


class DecisionBackend(Protocol):
    name: str

    async def classify(self, event: Event, facts: CaseFacts) -> Classification: ...
    async def plan(self, planning: PlanningInput) -> Plan: ...


def make_backend(name: str = "rules", settings: Settings | None = None) -> DecisionBackend:
    """rules: the runbook, no model. hybrid: rules first, the LLM for what they cannot decide. llm: the LLM on
    every decision, under the hybrid's checks and fallback. auto: hybrid when an LLM is configured, else rules."""
    if name == "auto":
        name = "hybrid" if settings is not None and settings.llm_configured else "rules"
    if name == "rules":
        from agents.rules import RulesBackend
        return RulesBackend()
    if name in ("hybrid", "llm"):
        from agents.hybrid import HybridBackend
        from settings import Settings
        return HybridBackend.from_settings(settings or Settings(), always=name == "llm")
    raise ValueError(f"unknown decision backend {name!r}; available: {', '.join(BACKENDS)}")
