"""The gate's verdict on one proposed action."""
from __future__ import annotations

from pydantic import BaseModel


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

    @classmethod
    def fail_closed(cls, why: str, engine: str, revision: str) -> "GateDecision":
        """Undefined results and evaluation errors deny: the gate never allows by accident."""
        return cls(allow=False, deny=[Reason(rule="gate.error", msg=why)], engine=engine, policy_revision=revision)
