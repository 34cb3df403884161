"""What the graph's nodes use, passed as LangGraph run context (not part of the checkpointed state)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.decide import DecisionBackend
from agents.executor import Executor
from guardrails.gate import PolicyGate
from store import Store
from tools.backend import OperationsBackend


@dataclass
class CaseDeps:
    backend: OperationsBackend
    gate: PolicyGate
    decider: DecisionBackend
    executor: Executor
    store: Store
    config: dict[str, Any]  # data.recourse.config from the policies: limits live there, once
    mode: str = "live"      # "shadow": plan and gate every case, execute nothing (RECOURSE_MODE)

    async def controls(self) -> dict[str, Any]:
        """What the gate is told about operations: the mode and the pause switch, read fresh each time."""
        return {"mode": self.mode, **await self.store.get_controls()}
