"""Simulator controls (admin only, mounted only when the operations backend is the simulator):
load a scenario's world and faults, and read the effect ledger, as an eval harness over HTTP needs."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from api.deps import Runtime, require, runtime
from tools.domain import World
from tools.sim.faults import Fault

router = APIRouter(prefix="/v1/sim", tags=["simulator"])


class WorldLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    world: World
    faults: list[Fault] = []


@router.put("/world")
async def load_world(body: WorldLoad, rt: Runtime = Depends(runtime), _=Depends(require())) -> dict[str, Any]:
    """Replaces the simulated system of record. Cases still open on the old world are closed as failed."""
    abandoned = await rt.service.abandon_open_cases("the simulated world was replaced")
    rt.backend.reset(body.world, body.faults)
    return {"status": "loaded", "abandoned_cases": abandoned}


@router.get("/effects")
async def effects(rt: Runtime = Depends(runtime), _=Depends(require())) -> dict[str, Any]:
    return {"effects": rt.backend.effects, "world": rt.backend.snapshot()}
