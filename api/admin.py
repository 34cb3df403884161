"""Operator controls: the pause switch (stops new side effects at once, across all workers)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import Runtime, require, runtime
from api.schemas import Controls, PauseRequest
from service.keys import Principal

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/controls", response_model=Controls)
async def controls(rt: Runtime = Depends(runtime), _=Depends(require())) -> Controls:
    return Controls(**await rt.service.store.get_controls())


@router.post("/pause", response_model=Controls)
async def pause(body: PauseRequest, rt: Runtime = Depends(runtime), who: Principal = Depends(require())) -> Controls:
    """Running cases hold at their next gate or action (they do not fail) and continue on resume."""
    return Controls(**await rt.service.set_pause(True, by=who.key_id, intent=body.intent))


@router.post("/resume", response_model=Controls)
async def resume(body: PauseRequest, rt: Runtime = Depends(runtime), who: Principal = Depends(require())) -> Controls:
    controls = await rt.service.set_pause(False, by=who.key_id, intent=body.intent)
    rt.work_admitted()
    return Controls(**controls)
