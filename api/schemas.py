"""Request and response bodies of the API."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CaseStatus = Literal["queued", "running", "awaiting_approval", "paused", "resolved", "escalated", "shadowed", "failed"]


class Submitted(BaseModel):
    case_id: str
    status: CaseStatus
    created: bool
    note: str = ""


class CaseSummary(BaseModel):
    id: str
    status: CaseStatus
    event_id: str
    pickup_id: str
    category: str | None
    created_at: str
    updated_at: str


class CaseView(CaseSummary):
    event: dict[str, Any]
    classification: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    gate_decisions: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    verification: dict[str, Any] | None = None
    escalation: dict[str, Any] | None = None


class CasePage(BaseModel):
    items: list[CaseSummary]
    limit: int
    offset: int
    next_offset: int | None


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=2000)


class AuditEntry(BaseModel):
    seq: int
    kind: str
    at: str
    payload: dict[str, Any]
    hash: str


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intent: Literal["reassign_driver", "reschedule_pickup", "notify_customer", "issue_credit", "cancel_pickup"] | None = None


class Controls(BaseModel):
    paused: bool
    paused_intents: list[str]


class ChainStatus(BaseModel):
    ok: bool
    entries: int
    head: str
    problem: str | None = None
