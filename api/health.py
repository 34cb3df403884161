"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Runtime, require, runtime
from api.schemas import ChainStatus
from observability.metrics import QUEUE_DEPTH
from service.keys import Role

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "the store is not reachable"}})
async def readyz(rt: Runtime = Depends(runtime)) -> dict:
    try:
        await rt.service.store.list_cases(limit=1)
    except Exception as exc:  # noqa: BLE001 - not ready is the answer, whatever the cause
        raise HTTPException(503, detail=f"store not reachable: {exc}") from None
    return {"status": "ready", "queued": await rt.service.store.count_queued(), "policy_revision": rt.service.deps.gate.revision}


@router.get("/metrics", response_class=PlainTextResponse)  # Prometheus text format, documented as text/plain
async def metrics(rt: Runtime = Depends(runtime)) -> Response:
    QUEUE_DEPTH.set(await rt.service.store.count_queued())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/audit/verify", response_model=ChainStatus)
async def verify_audit(rt: Runtime = Depends(runtime), _=Depends(require(Role.dispatcher))) -> ChainStatus:
    report = await rt.service.store.verify_audit()
    return ChainStatus(ok=report.ok, entries=report.entries, head=report.head, problem=report.problem)
