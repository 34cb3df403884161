"""Synthetic fleets for load tests and benchmarks: N pickups whose drivers are out sick, each with a
qualified replacement nearby, so every case should resolve with one reassignment and one notification."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

NOW = datetime(2026, 11, 20, 14, tzinfo=timezone.utc)


def fleet_world(pickups: int, *, tiers: tuple[str, ...] = ("standard",)) -> dict[str, Any]:
    customers, drivers, vehicles, plist = [], [], [], []
    for i in range(pickups):
        lat, lon = 52.0 + (i % 20) * 0.05, 4.5 + (i // 20) * 0.05
        customers.append({"id": f"C{i}", "name": f"Customer {i}", "tier": tiers[i % len(tiers)], "notify": True})
        for role, status, dlat in (("S", "sick", 0.0), ("R", "on_duty", 0.02)):
            drivers.append({"id": f"{role}{i}", "status": status, "location": {"lat": lat + dlat, "lon": lon},
                            "shift_end": (NOW + timedelta(hours=8)).isoformat(), "skills": [], "vehicle_id": f"V{role}{i}"})
            vehicles.append({"id": f"V{role}{i}", "type": "van", "capacity_kg": 1000, "status": "ok", "features": []})
        plist.append({"id": f"P{i}", "customer_id": f"C{i}", "location": {"lat": lat + 0.01, "lon": lon},
                      "window": {"start": (NOW - timedelta(minutes=30)).isoformat(), "end": (NOW + timedelta(hours=2)).isoformat()},
                      "weight_kg": 300, "requirements": [], "value_usd": 1000, "status": "missed", "driver_id": f"S{i}"})
    return {"now": NOW.isoformat(), "customers": customers, "drivers": drivers, "vehicles": vehicles, "pickups": plist}


def fleet_event(i: int) -> dict[str, Any]:
    return {"id": f"EVT-{i}", "type": "driver_unavailable", "pickup_id": f"P{i}", "source": "api", "note": "out sick"}


def fleet_scenario(pickups: int, faults: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A scenario document (for `recourse serve --world`) around a fleet world."""
    return {"format": 1, "id": "fleet", "title": f"synthetic fleet of {pickups} pickups", "world": fleet_world(pickups),
            "faults": faults or [], "event": fleet_event(0), "expect": {"outcome": "resolved"}}
