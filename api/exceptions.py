"""POST /v1/exceptions: admit an exception event for autonomous handling."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from agents.models import Event
from api.deps import Runtime, require, runtime
from api.schemas import Submitted
from observability import metrics
from service.keys import Principal, Role
from graph.cases import QueueFull
from tools.errors import OpsError, OpsNotFound

router = APIRouter(prefix="/v1/exceptions", tags=["exceptions"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=Submitted,
             responses={200: {"model": Submitted, "description": "a repeated event, or one joining an open case"},
                        422: {"description": "invalid event, naming the field"}, 429: {"description": "queue full"},
                        503: {"description": "the operations backend is unreachable; retry after Retry-After"}})
async def submit_exception(event: Event, response: Response, rt: Runtime = Depends(runtime),
                           who: Principal = Depends(require(Role.submitter))) -> Submitted:
    """Accepted means durable: the case is in the database before 202 returns. Idempotent on `event.id`."""
    try:
        await rt.backend.get_pickup(event.pickup_id)
    except OpsNotFound:
        raise HTTPException(422, detail=f"pickup_id: unknown pickup {event.pickup_id!r}") from None
    except OpsError as exc:
        raise HTTPException(503, detail=f"operations backend unavailable: {exc}", headers={"Retry-After": "5"}) from None
    try:
        submission = await rt.service.submit(event, submitted_by=who.key_id, max_queued=rt.settings.queue_size)
    except QueueFull:
        metrics.REJECTED_FULL.inc()
        raise HTTPException(429, detail="work queue is full; retry later", headers={"Retry-After": "2"}) from None
    metrics.CASES_SUBMITTED.labels(verdict="created" if submission.created else "existing").inc()
    if submission.created:
        rt.work_admitted()
        return Submitted(case_id=submission.case_id, status="queued", created=True)
    response.status_code = status.HTTP_200_OK
    row = await rt.service.store.get_case(submission.case_id)
    return Submitted(case_id=submission.case_id, status=row.status, created=False, note=submission.note)
