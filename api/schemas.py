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


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str | None = Field(default=None, min_length=1, max_length=240, description="the case the question is about, if any")
    message: str = Field(min_length=1, max_length=2000, description="a question, or `approve CASE` / `reject CASE because ...`")


class SuggestedAction(BaseModel):
    decision: Literal["approve", "reject"]
    case_id: str
    label: str
    message: str = Field(description="the chat message that does it")


class ChatApproval(BaseModel):
    """What an `approve` / `reject` message did (through the same path as POST /v1/cases/{id}/approvals)."""

    case_id: str
    decision: Literal["approve", "reject"]
    status: CaseStatus
    settled: bool = Field(description="false: the answer is recorded and a worker is still applying it")


class ChatAnswer(BaseModel):
    answer: str
    citations: list[int] = Field(description="the audit entries (seq) the answer cites as [#seq]")
    case_id: str | None = None
    cases: list[str] = []
    actions: list[SuggestedAction] = Field(default=[], description="approve/reject offers, for dispatchers, on cases awaiting approval")
    approval: ChatApproval | None = None
