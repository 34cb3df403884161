"""What the decision backends take and return. Pydantic, so an LLM's output is validated like any input."""
from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.read import CaseFacts


class Category(StrEnum):
    driver_unavailable = "driver_unavailable"
    vehicle_breakdown = "vehicle_breakdown"
    customer_not_ready = "customer_not_ready"
    address_issue = "address_issue"
    capacity_mismatch = "capacity_mismatch"
    weather = "weather"
    system_error = "system_error"
    duplicate = "duplicate"
    other = "other"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Event(BaseModel):
    """An exception as a submitting system sends it (FORMAT.md `event`)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")
    type: Literal["pickup_missed", "pickup_late", "driver_unavailable", "vehicle_breakdown",
                  "customer_not_ready", "address_issue", "other"]
    pickup_id: str = Field(min_length=1, max_length=200)
    reported_at: str | None = None
    source: Literal["api", "webhook", "driver_app", "carrier_email", "customer"] = "api"
    note: str = Field(default="", max_length=20_000)


class Classification(BaseModel):
    category: Category
    severity: Severity
    confidence: float = Field(ge=0, le=1)
    cause: Literal["exception", "customer_request"] = "exception"
    rationale: str
    evidence: list[str] = []
    decided_by: dict[str, Any] | None = Field(default=None, description="which backend decided, and the LLM call's audit facts")


class ProposedAction(BaseModel):
    tool: Literal["reassign_driver", "reschedule_pickup", "notify_customer", "issue_credit", "cancel_pickup"]
    args: dict[str, Any]
    rationale: str
    after: list[int] = Field(default=[], description="indices of actions in this plan that must take effect first")


class Alternative(BaseModel):
    option: str
    rejected_because: str


class Plan(BaseModel):
    actions: list[ProposedAction] = []
    confidence: float = Field(ge=0, le=1)
    rationale: str
    rejected: list[Alternative] = []
    escalate: str | None = Field(default=None, description="an escalation reason when no autonomous remedy exists")
    decided_by: dict[str, Any] | None = Field(default=None, description="which backend decided, and the LLM call's audit facts")


class ScreenedCandidate(BaseModel):
    """A possible replacement driver and the gate's verdict on giving them the pickup."""

    driver_id: str
    distance_km: float
    allowed: bool
    reasons: list[str] = []
    unavailable: bool = Field(default=False, description="the policy engine gave no answer for this driver")


class PlanningInput(BaseModel):
    event: Event
    classification: Classification
    facts: CaseFacts
    screened: list[ScreenedCandidate]
    config: dict[str, Any]
    excluded: list[str] = []
