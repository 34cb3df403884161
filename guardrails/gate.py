"""The policy gate evaluated in-process with regopy, from a bundle prepared once."""
from __future__ import annotations

import json
from typing import Any, Protocol

from regopy import Interpreter

from guardrails.decision import GateDecision
from guardrails.policy_files import PolicySet

DECISION = "recourse/gate/decision"
CONFIDENCE = "recourse/confidence/sufficient"


class PolicyGate(Protocol):
    engine: str
    revision: str

    def decide(self, policy_input: dict[str, Any]) -> GateDecision: ...
    def confidence_sufficient(self, confidence: float) -> bool: ...


class RegoGate:
    engine = "regopy"

    def __init__(self, policies: PolicySet | None = None):
        self.policies = policies or PolicySet()
        self.revision = self.policies.revision
        builder = Interpreter()
        builder.add_data(self.policies.data)
        for name, source in self.policies.modules.items():
            builder.add_module(name, source)
        self._bundle = builder.build(None, [DECISION, CONFIDENCE])
        self._interpreter = Interpreter()

    def _query(self, entrypoint: str, policy_input: dict[str, Any]) -> Any:
        self._interpreter.set_input(policy_input)
        output = self._interpreter.query_bundle_entrypoint(self._bundle, entrypoint)
        if not output.ok():
            raise RuntimeError(f"policy evaluation failed: {output}")
        expressions = json.loads(str(output)).get("expressions") or []
        if not expressions:
            raise LookupError(f"{entrypoint} is undefined for this input")
        return expressions[0]

    def decide(self, policy_input: dict[str, Any]) -> GateDecision:
        try:
            result = self._query(DECISION, policy_input)
            return GateDecision(engine=self.engine, policy_revision=self.revision, **result)
        except Exception as exc:  # noqa: BLE001 - any failure to evaluate is a deny
            return GateDecision.fail_closed(str(exc), self.engine, self.revision)

    def confidence_sufficient(self, confidence: float) -> bool:
        try:
            return self._query(CONFIDENCE, {"case": {"confidence": confidence}}) is True
        except Exception:  # noqa: BLE001 - unknown means not sufficient
            return False
