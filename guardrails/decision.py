"""The gate's verdict on one proposed action."""
from __future__ import annotations

from pydantic import BaseModel

ERROR_RULE = "gate.error"
UNAVAILABLE_RULE = "gate.policy_unavailable"


class Reason(BaseModel):
    rule: str
    msg: str


class GateDecision(BaseModel):
    allow: bool
    needs_approval: bool = False
    deny: list[Reason] = []
    approval: list[Reason] = []
    engine: str
    policy_revision: str
    level: str = "autonomous"  # the intent's autonomy level: shadow | supervised | autonomous
    paused: bool = False       # a pause switch covers this intent: hold, do not execute
    decision_id: str | None = None  # the engine's id for this decision (OPA's decision log), when it has one

    @classmethod
    def fail_closed(cls, why: str, engine: str, revision: str, *, rule: str = ERROR_RULE,
                    decision_id: str | None = None) -> "GateDecision":
        """Undefined results and evaluation errors deny: the gate never allows by accident."""
        return cls(allow=False, deny=[Reason(rule=rule, msg=why)], engine=engine, policy_revision=revision,
                   decision_id=decision_id)

    @classmethod
    def unavailable(cls, why: str, engine: str, revision: str, decision_id: str | None = None) -> "GateDecision":
        """The policy engine gave no decision (unreachable, timed out, failing, policy not loaded): deny, escalate."""
        return cls.fail_closed(why, engine, revision, rule=UNAVAILABLE_RULE, decision_id=decision_id)
