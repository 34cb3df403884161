"""The policy gate: its protocol, the in-process engine (regopy, from a bundle prepared once), and the factory."""
from __future__ import annotations

import json
import math
from typing import Any, Protocol

from regopy import Interpreter

from guardrails.decision import GateDecision
from guardrails.policy_files import PolicySet

DECISION = "recourse/gate/decision"
CONFIDENCE = "recourse/confidence/sufficient"


def _survives_dict_conversion(value: Any) -> bool:
    """Whether regopy's set_input(dict) passes `value` unchanged. It keeps only 6 decimal places of a float
    (0.6999999999999998 became 0.7 and passed the confidence threshold OPA refused) and 64-bit ints, so
    other inputs go as JSON text (set_input_term: exact, about twice as slow, ~0.3 ms for a gate input)."""
    if isinstance(value, float):
        return math.isfinite(value) and float(f"{value:.6f}") == value
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, dict):
        return all(isinstance(k, str) and _survives_dict_conversion(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_survives_dict_conversion(v) for v in value)
    return False


class PolicyGate(Protocol):
    engine: str
    revision: str

    def decide(self, policy_input: dict[str, Any]) -> GateDecision: ...
    def confidence_sufficient(self, confidence: float) -> bool | None: ...  # None: the engine gave no answer


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
        if _survives_dict_conversion(policy_input):
            self._interpreter.set_input(policy_input)
        else:
            self._interpreter.set_input_term(json.dumps(policy_input))
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


def make_gate(opa_url: str | None, *, timeout_s: float | None = None, upload: bool = True) -> PolicyGate:
    """`RECOURSE_OPA_URL` set: decisions from that OPA server (OpaGate, which refuses to start on a policy
    mismatch); unset: in-process regopy. `timeout_s` is OpaGate's per-decision timeout; `upload=False`
    only checks a server that loads its own bundle."""
    if not opa_url:
        return RegoGate()
    from guardrails.opa import DEFAULT_TIMEOUT_S, OpaGate  # here, not at the top: guardrails.opa imports this module

    return OpaGate(opa_url, timeout_s=DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s, upload=upload)
