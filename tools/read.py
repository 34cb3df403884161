"""Read tools: what the agents may know about a pickup, its customer and the drivers who could take it."""
from __future__ import annotations

import asyncio
from datetime import datetime

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from tools.backend import OperationsBackend
from tools.domain import Customer, Driver, Pickup, Vehicle
from tools.errors import OpsNotFound
from tools.geo import haversine_km


class Candidate(BaseModel):
    """A driver who might take the pickup over, with the facts the policy judges."""

    driver: Driver
    vehicle: Vehicle | None
    distance_km: float


class CaseFacts(BaseModel):
    """Everything read from the system of record about one pickup, at one moment."""

    now: datetime
    pickup: Pickup
    customer: Customer
    assigned_driver: Driver | None = None
    assigned_vehicle: Vehicle | None = None
    candidates: list[Candidate] = []


class PickupRef(BaseModel):
    pickup_id: str = Field(description="The pickup's id in the TMS")


class DriverRef(BaseModel):
    driver_id: str


class CustomerRef(BaseModel):
    customer_id: str


async def _vehicle_or_none(backend: OperationsBackend, vehicle_id: str | None) -> Vehicle | None:
    if vehicle_id is None:
        return None
    try:
        return await backend.get_vehicle(vehicle_id)
    except OpsNotFound:
        return None


def _candidate(driver: Driver, vehicle: Vehicle | None, pickup: Pickup) -> Candidate:
    distance = haversine_km(driver.location.lat, driver.location.lon, pickup.location.lat, pickup.location.lon)
    return Candidate(driver=driver, vehicle=vehicle, distance_km=round(distance, 3))


async def find_candidates(backend: OperationsBackend, pickup: Pickup, limit: int = 50) -> list[Candidate]:
    """The drivers nearest the pickup, but its current one, nearest first (ties by id)."""
    nearest = [d for d in await backend.nearest_drivers(pickup.location.lat, pickup.location.lon, limit + 1)
               if d.id != pickup.driver_id]
    vehicles = await asyncio.gather(*(_vehicle_or_none(backend, d.vehicle_id) for d in nearest))  # one round trip's time
    candidates = [_candidate(d, v, pickup) for d, v in zip(nearest, vehicles)]
    return sorted(candidates, key=lambda c: (c.distance_km, c.driver.id))[:limit]


async def candidate(backend: OperationsBackend, pickup: Pickup, driver_id: str) -> Candidate | None:
    """One named driver as a candidate for the pickup; None if the record has no such driver."""
    try:
        driver = await backend.get_driver(driver_id)
    except OpsNotFound:
        return None
    return _candidate(driver, await _vehicle_or_none(backend, driver.vehicle_id), pickup)


async def gather_case_facts(backend: OperationsBackend, pickup_id: str, *, candidates: int = 0,
                            drivers: tuple[str, ...] = ()) -> CaseFacts:
    """Facts about the pickup; candidates are the nearest `candidates` drivers (for planning) or the named ones (for gating)."""
    pickup = await backend.get_pickup(pickup_id)
    customer = await backend.get_customer(pickup.customer_id)
    driver = await backend.get_driver(pickup.driver_id) if pickup.driver_id else None
    if candidates:
        found = await find_candidates(backend, pickup, candidates)
    else:
        found = [c for d in drivers if (c := await candidate(backend, pickup, d)) is not None]
    return CaseFacts(
        now=await backend.now(), pickup=pickup, customer=customer, assigned_driver=driver,
        assigned_vehicle=await _vehicle_or_none(backend, driver.vehicle_id if driver else None),
        candidates=found,
    )


def read_tools(backend: OperationsBackend) -> list[StructuredTool]:
    """The read tools as langchain-core tools, for an LLM backend that looks things up itself."""
    async def get_pickup(pickup_id: str) -> dict:
        return (await backend.get_pickup(pickup_id)).model_dump(mode="json")

    async def get_driver(driver_id: str) -> dict:
        return (await backend.get_driver(driver_id)).model_dump(mode="json")

    async def get_customer(customer_id: str) -> dict:
        return (await backend.get_customer(customer_id)).model_dump(mode="json")

    async def get_candidates(pickup_id: str) -> list[dict]:
        pickup = await backend.get_pickup(pickup_id)
        return [c.model_dump(mode="json") for c in await find_candidates(backend, pickup)]

    spec = [(get_pickup, PickupRef, "Read a pickup: window, requirements, status, driver."),
            (get_driver, DriverRef, "Read a driver: status, location, shift end, skills, vehicle."),
            (get_customer, CustomerRef, "Read a customer: tier and notification preference."),
            (get_candidates, PickupRef, "List drivers who might take a pickup over, nearest first.")]
    return [StructuredTool.from_function(coroutine=fn, name=fn.__name__, description=doc, args_schema=schema)
            for fn, schema, doc in spec]
