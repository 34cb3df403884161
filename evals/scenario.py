"""The canonical scenario format, version 1 (../shared/scenarios/FORMAT.md), exactly: unknown keys are errors."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.models import Category, Event
from tools.domain import World
from tools.sim.faults import Fault

ActionTool = Literal["reassign_driver", "reschedule_pickup", "notify_customer", "issue_credit", "cancel_pickup"]
EscalationReason = Literal["any", "low_confidence", "policy_denied", "retries_exhausted", "verification_failed",
                           "no_candidate", "needs_approval", "policy_unavailable"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionExpectations(Strict):
    include: list[ActionTool] = []
    exclude: list[ActionTool] = []
    max: dict[ActionTool, int] = {}


class EscalationExpectation(Strict):
    reason: EscalationReason = "any"


class Expectations(Strict):
    outcome: Literal["resolved", "escalated", "awaiting_approval"]
    category: Category | None = None
    state: dict[str, Any] = {}
    actions: ActionExpectations = ActionExpectations()
    escalation: EscalationExpectation | None = None

    @model_validator(mode="after")
    def _escalation_when_not_resolved(self) -> "Expectations":
        if self.outcome != "resolved" and self.escalation is None:
            raise ValueError(f"expect.escalation is required when outcome is {self.outcome}")
        return self


class Scenario(Strict):
    format: Literal[1]
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str
    tags: list[str] = []
    world: World
    event: Event
    faults: list[Fault] | None = None
    expect: Expectations

    @model_validator(mode="after")
    def _event_refers_to_world(self) -> "Scenario":
        if self.event.pickup_id not in {p.id for p in self.world.pickups}:
            raise ValueError(f"event.pickup_id {self.event.pickup_id!r} is not a pickup in world.pickups")
        return self


