"""The simulator as its own HTTP service, so several Recourse processes share one system of record
(as they would share a real TMS). Speaks the protocol that `tools/http_backend.py` calls."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from tools.domain import Window, World
from tools.errors import OpsError
from tools.sim.faults import Fault
from tools.sim.persist import PersistentSimulatedBackend

STATUS_FOR = {"timeout": 504, "unavailable": 503, "conflict": 409, "not_found": 404}


class WorldLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    world: World
    faults: list[Fault] = []


def create_sim_app(sim: PersistentSimulatedBackend) -> FastAPI:
    app = FastAPI(title="Recourse operations simulator")

    @app.exception_handler(OpsError)
    async def ops_error(_: Request, exc: OpsError) -> JSONResponse:
        return JSONResponse(status_code=STATUS_FOR.get(exc.code, 500), content={"error": exc.code, "detail": exc.detail})

    @app.get("/now")
    async def now() -> dict[str, str]:
        return {"now": (await sim.now()).isoformat()}

    @app.get("/pickups/{pickup_id}")
    async def pickup(pickup_id: str):
        return await sim.get_pickup(pickup_id)

    @app.get("/drivers/{driver_id}")
    async def driver(driver_id: str):
        return await sim.get_driver(driver_id)

    @app.get("/vehicles/{vehicle_id}")
    async def vehicle(vehicle_id: str):
        return await sim.get_vehicle(vehicle_id)

    @app.get("/customers/{customer_id}")
    async def customer(customer_id: str):
        return await sim.get_customer(customer_id)

    @app.get("/drivers")
    async def drivers(lat: float | None = None, lon: float | None = None, limit: int | None = None):
        if lat is not None and lon is not None:
            return await sim.nearest_drivers(lat, lon, limit or 50)
        return await sim.list_drivers()

    @app.get("/pickups/{pickup_id}/notifications")
    async def notifications(pickup_id: str) -> list[dict[str, Any]]:
        return await sim.list_notifications(pickup_id)

    @app.get("/customers/{customer_id}/credits")
    async def credits(customer_id: str) -> list[dict[str, Any]]:
        return await sim.list_credits(customer_id)

    @app.post("/actions/{tool}")
    async def act(tool: str, args: dict[str, Any], idempotency_key: str = Header(...)):
        if tool == "reschedule_pickup":
            args = {**args, "window": Window.model_validate(args["window"])}
        action = {"reassign_driver": sim.reassign_driver, "reschedule_pickup": sim.reschedule_pickup,
                  "notify_customer": sim.notify_customer, "issue_credit": sim.issue_credit,
                  "cancel_pickup": sim.cancel_pickup}.get(tool)
        if action is None:
            return JSONResponse(status_code=404, content={"error": "not_found", "detail": f"no action {tool!r}"})
        return await action(**args, idempotency_key=idempotency_key)

    @app.put("/world")
    async def load(body: WorldLoad) -> dict[str, str]:
        sim.reset(body.world, body.faults)
        return {"status": "loaded"}

    @app.get("/effects")
    async def effects() -> dict[str, Any]:
        return {"effects": sim.effects, "world": sim.snapshot()}

    return app
