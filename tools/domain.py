"""The operations domain as the system of record holds it: customers, drivers, vehicles, pickups.

Models reject unknown keys so that a typo in a scenario or an adapter payload is an error, not a
silently ignored field.
"""
from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tier(StrEnum):
    standard = "standard"
    priority = "priority"
    strategic = "strategic"


class DriverStatus(StrEnum):
    on_duty = "on_duty"
    off_duty = "off_duty"
    sick = "sick"
    on_break = "on_break"


class VehicleStatus(StrEnum):
    ok = "ok"
    breakdown = "breakdown"
    maintenance = "maintenance"


class Capability(StrEnum):
    hazmat = "hazmat"
    reefer = "reefer"
    liftgate = "liftgate"


class PickupStatus(StrEnum):
    scheduled = "scheduled"
    assigned = "assigned"
    en_route = "en_route"
    missed = "missed"
    picked_up = "picked_up"
    rescheduled = "rescheduled"
    cancelled = "cancelled"


def utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


class Location(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str | None = None


class Window(Strict):
    start: AwareDatetime
    end: AwareDatetime

    @field_validator("start", "end")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self


class Customer(Strict):
    id: str
    name: str
    tier: Tier
    notify: bool


class Driver(Strict):
    id: str
    status: DriverStatus
    location: Location
    shift_end: AwareDatetime
    skills: list[Capability] = []
    vehicle_id: str | None = None


class Vehicle(Strict):
    id: str
    type: str
    capacity_kg: float = Field(ge=0)
    status: VehicleStatus
    features: list[Capability] = []


class Pickup(Strict):
    id: str
    customer_id: str
    location: Location
    window: Window
    weight_kg: float = Field(ge=0)
    requirements: list[Capability] = []
    value_usd: float = Field(ge=0)
    status: PickupStatus
    driver_id: str | None = None


class World(Strict):
    """A snapshot of the operational systems at `now`."""

    now: AwareDatetime
    customers: list[Customer]
    drivers: list[Driver]
    vehicles: list[Vehicle]
    pickups: list[Pickup]

    @model_validator(mode="after")
    def _references_resolve(self) -> "World":
        customers = {c.id for c in self.customers}
        drivers = {d.id for d in self.drivers}
        vehicles = {v.id for v in self.vehicles}
        for kind, ids in (("customers", [c.id for c in self.customers]), ("drivers", [d.id for d in self.drivers]),
                          ("vehicles", [v.id for v in self.vehicles]), ("pickups", [p.id for p in self.pickups])):
            if len(ids) != len(set(ids)):
                raise ValueError(f"world.{kind}: duplicate id")
        for d in self.drivers:
            if d.vehicle_id is not None and d.vehicle_id not in vehicles:
                raise ValueError(f"driver {d.id}: unknown vehicle_id {d.vehicle_id!r}")
        for p in self.pickups:
            if p.customer_id not in customers:
                raise ValueError(f"pickup {p.id}: unknown customer_id {p.customer_id!r}")
            if p.driver_id is not None and p.driver_id not in drivers:
                raise ValueError(f"pickup {p.id}: unknown driver_id {p.driver_id!r}")
        return self
