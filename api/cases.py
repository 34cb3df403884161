"""Cases: read one (with its plan, gate decisions, actions, verification, packet), list, audit, approve."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from api.deps import Runtime, require, runtime
from api.schemas import ApprovalRequest, AuditEntry, CasePage, CaseStatus, CaseSummary, CaseView
from service.keys import Principal, Role
from store.models import CaseRow

router = APIRouter(prefix="/v1/cases", tags=["cases"])

readers = require(Role.submitter, Role.dispatcher)
APPROVAL_WAIT_S = 10.0
MAX_OFFSET = 2**53  # well inside SQLite's 64-bit integers (a larger offset was a 500) and exact in JSON


async def _visible_case(case_id: str, rt: Runtime, who: Principal) -> CaseRow:
    row = await rt.service.store.get_case(case_id)
    if row is None or (who.role == Role.submitter and row.submitted_by != who.key_id):
        raise HTTPException(404, detail=f"no case {case_id!r}")
    return row


def _summary(row: CaseRow) -> dict:
    return {"id": row.id, "status": row.status, "event_id": row.event_id, "pickup_id": row.pickup_id,
            "category": row.category, "created_at": row.created_at, "updated_at": row.updated_at}


@router.get("/{case_id}", response_model=CaseView)
async def get_case(case_id: str, rt: Runtime = Depends(runtime), who: Principal = Depends(readers)) -> CaseView:
    row = await _visible_case(case_id, rt, who)
    state = await rt.service.state(case_id)
    return CaseView(**_summary(row), event=row.event, classification=state.get("classification"), plan=state.get("plan"),
                    gate_decisions=state.get("decisions", []), actions=state.get("results", []),
                    verification=state.get("verification"), escalation=row.escalation)


@router.get("", response_model=CasePage)
async def list_cases(status: CaseStatus | None = None, pickup_id: str | None = Query(None, max_length=200),
                     limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                     rt: Runtime = Depends(runtime), who: Principal = Depends(readers)) -> CasePage:
    own = who.key_id if who.role == Role.submitter else None
    rows = await rt.service.store.list_cases(status=status, pickup_id=pickup_id, submitted_by=own, limit=limit + 1, offset=offset)
    return CasePage(items=[CaseSummary(**_summary(r)) for r in rows[:limit]], limit=limit, offset=offset,
                    next_offset=offset + limit if len(rows) > limit else None)


@router.get("/{case_id}/audit", response_model=list[AuditEntry])
async def case_audit(case_id: str, rt: Runtime = Depends(runtime), who: Principal = Depends(readers)) -> list[AuditEntry]:
    await _visible_case(case_id, rt, who)
    return [AuditEntry(**e) for e in await rt.service.store.audit_entries(case_id)]


@router.post("/{case_id}/approvals", response_model=CaseView,
             responses={202: {"model": CaseView, "description": "answer recorded; the case is still being resumed"},
                        409: {"description": "nothing is waiting for approval"}})
async def answer_approval(case_id: str, body: ApprovalRequest, response: Response, rt: Runtime = Depends(runtime),
                          who: Principal = Depends(require(Role.dispatcher))) -> CaseView:
    """Records the answer; a worker resumes the case: approved actions pass the gate again (with the
    approval in its input) and run. Waits briefly for the outcome: 200 with it, or 202 if still running."""
    if not await submit_approval_answer(case_id, body.decision, body.comment, rt, who):
        response.status_code = 202
    return await get_case(case_id, rt, who)


async def submit_approval_answer(case_id: str, decision: str, comment: str, rt: Runtime, who: Principal) -> bool:
    """The one path for a dispatcher's answer (this endpoint and the chat): records it for a worker, wakes
    the workers and waits up to APPROVAL_WAIT_S for the case to move on. True if it did; 409 if the case
    is not waiting for an answer. The caller checks the role."""
    row = await _visible_case(case_id, rt, who)
    if row.status != "awaiting_approval" or not await rt.service.request_approval_answer(
            case_id, decision, by=who.key_id, comment=comment):
        raise HTTPException(409, detail=f"case {case_id} is {row.status}, not waiting for an answer")
    rt.work_admitted()
    deadline = asyncio.get_running_loop().time() + APPROVAL_WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        row = await rt.service.store.get_case(case_id)
        if row.approval is None and row.status != "running":
            return True
        await asyncio.sleep(0.02)
    return False
