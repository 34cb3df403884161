"""A PolicyGate wrapper that keeps every input it was asked about, to replay on another engine (parity, benchmarks)."""
from __future__ import annotations

import copy
from typing import Any

from guardrails.decision import GateDecision
from guardrails.gate import PolicyGate


class RecordingGate:
    """Decides with `inner` and records (input, decision) pairs and the confidences it was asked about, in order."""

    def __init__(self, inner: PolicyGate):
        self.inner = inner
        self.engine, self.revision = inner.engine, inner.revision
        if hasattr(inner, "policies"):
            self.policies = inner.policies  # passed through for callers that read the limits from the gate
        self.decisions: list[tuple[dict[str, Any], GateDecision]] = []
        self.confidences: list[float] = []

    def decide(self, policy_input: dict[str, Any]) -> GateDecision:
        decision = self.inner.decide(policy_input)
        self.decisions.append((copy.deepcopy(policy_input), decision))
        return decision

    def confidence_sufficient(self, confidence: float) -> bool:
        self.confidences.append(confidence)
        return self.inner.confidence_sufficient(confidence)

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return [policy_input for policy_input, _ in self.decisions]
