"""An `OperationsBackend` over HTTP: the shape a real TMS adapter takes. Talks to the simulator
service (`recourse sim serve`); Idempotency-Key travels as a header, errors map back to `OpsError`s."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tools.backend import Receipt
from tools.domain import Customer, Driver, Pickup, Vehicle, Window
from tools.errors import OpsConflict, OpsError, OpsNotFound, OpsTimeout, OpsUnavailable

ERRORS = {504: OpsTimeout, 503: OpsUnavailable, 409: OpsConflict, 404: OpsNotFound}


class HttpOperationsBackend:
    def __init__(self, base_url: str, timeout_s: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s,
                                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(self, tool: str, method: str, path: str, **kwargs) -> Any:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise OpsTimeout(tool, f"no reply from {self.base_url}: {exc.__class__.__name__}") from None
        except httpx.TransportError as exc:
            raise OpsUnavailable(tool, f"{self.base_url} unreachable: {exc.__class__.__name__}") from None
        if response.status_code >= 400:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            raise ERRORS.get(response.status_code, OpsError)(tool, str(body.get("detail") or response.status_code))
        return response.json()

    async def now(self) -> datetime:
        return datetime.fromisoformat((await self._call("now", "GET", "/now"))["now"])

    async def get_pickup(self, pickup_id: str) -> Pickup:
        return Pickup.model_validate(await self._call("get_pickup", "GET", f"/pickups/{pickup_id}"))

    async def get_driver(self, driver_id: str) -> Driver:
        return Driver.model_validate(await self._call("get_driver", "GET", f"/drivers/{driver_id}"))

    async def get_vehicle(self, vehicle_id: str) -> Vehicle:
        return Vehicle.model_validate(await self._call("get_vehicle", "GET", f"/vehicles/{vehicle_id}"))

    async def get_customer(self, customer_id: str) -> Customer:
        return Customer.model_validate(await self._call("get_customer", "GET", f"/customers/{customer_id}"))

    async def list_drivers(self) -> list[Driver]:
        return [Driver.model_validate(d) for d in await self._call("list_drivers", "GET", "/drivers")]

    async def nearest_drivers(self, lat: float, lon: float, limit: int) -> list[Driver]:
        found = await self._call("nearest_drivers", "GET", "/drivers", params={"lat": lat, "lon": lon, "limit": limit})
        return [Driver.model_validate(d) for d in found]

    async def list_notifications(self, pickup_id: str) -> list[dict[str, Any]]:
        return await self._call("list_notifications", "GET", f"/pickups/{pickup_id}/notifications")

    async def list_credits(self, customer_id: str) -> list[dict[str, Any]]:
        return await self._call("list_credits", "GET", f"/customers/{customer_id}/credits")

    async def _act(self, tool: str, key: str, args: dict[str, Any]) -> Receipt:
        return Receipt.model_validate(await self._call(tool, "POST", f"/actions/{tool}", json=args,
                                                       headers={"Idempotency-Key": key}))

    async def reassign_driver(self, pickup_id: str, driver_id: str, *, idempotency_key: str) -> Receipt:
        return await self._act("reassign_driver", idempotency_key, {"pickup_id": pickup_id, "driver_id": driver_id})

    async def reschedule_pickup(self, pickup_id: str, window: Window, *, idempotency_key: str) -> Receipt:
        return await self._act("reschedule_pickup", idempotency_key,
                               {"pickup_id": pickup_id, "window": window.model_dump(mode="json")})

    async def notify_customer(self, customer_id: str, pickup_id: str, message: str, *, idempotency_key: str) -> Receipt:
        return await self._act("notify_customer", idempotency_key,
                               {"customer_id": customer_id, "pickup_id": pickup_id, "message": message})

    async def issue_credit(self, customer_id: str, amount_usd: float, reason: str, *, idempotency_key: str) -> Receipt:
        return await self._act("issue_credit", idempotency_key,
                               {"customer_id": customer_id, "amount_usd": amount_usd, "reason": reason})

    async def cancel_pickup(self, pickup_id: str, reason: str, *, idempotency_key: str) -> Receipt:
        return await self._act("cancel_pickup", idempotency_key, {"pickup_id": pickup_id, "reason": reason})
