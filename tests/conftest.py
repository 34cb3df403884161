"""Shared fixtures: a small world that tests adjust, and the repo's scenarios."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from evals.loader import load_scenario
from evals.scenario import Scenario

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "evals" / "scenarios"

BASE: dict[str, Any] = {
    "format": 1,
    "id": "t-base",
    "title": "test world: D1 sick, D2 qualified 2 km away, D3 far away",
    "world": {
        "now": "2026-11-20T14:00:00Z",
        "customers": [{"id": "C1", "name": "Acme", "tier": "standard", "notify": True}],
        "drivers": [
            {"id": "D1", "status": "sick", "location": {"lat": 52.37, "lon": 4.89}, "shift_end": "2026-11-20T22:00:00Z",
             "skills": [], "vehicle_id": "V1"},
            {"id": "D2", "status": "on_duty", "location": {"lat": 52.38, "lon": 4.90}, "shift_end": "2026-11-20T22:00:00Z",
             "skills": [], "vehicle_id": "V2"},
            {"id": "D3", "status": "on_duty", "location": {"lat": 51.44, "lon": 5.47}, "shift_end": "2026-11-20T22:00:00Z",
             "skills": [], "vehicle_id": "V3"},
        ],
        "vehicles": [
            {"id": "V1", "type": "van", "capacity_kg": 1000, "status": "ok", "features": []},
            {"id": "V2", "type": "van", "capacity_kg": 1000, "status": "ok", "features": []},
            {"id": "V3", "type": "van", "capacity_kg": 1000, "status": "ok", "features": []},
        ],
        "pickups": [{"id": "P1", "customer_id": "C1", "location": {"lat": 52.36, "lon": 4.90, "address": "Dock 4"},
                     "window": {"start": "2026-11-20T13:30:00Z", "end": "2026-11-20T16:00:00Z"}, "weight_kg": 400,
                     "requirements": [], "value_usd": 1800, "status": "missed", "driver_id": "D1"}],
    },
    "event": {"id": "EVT-T-1", "type": "driver_unavailable", "pickup_id": "P1", "source": "driver_app",
              "note": "D1 called in sick, nobody covered P1."},
    "expect": {"outcome": "resolved"},
}


def make_scenario(**changes: Any) -> Scenario:
    """The base scenario with dotted-path changes, e.g. make_scenario(**{"world.customers.0.tier": "priority"})."""
    raw = copy.deepcopy(BASE)
    for path, value in changes.items():
        node: Any = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return Scenario.model_validate(raw)


@pytest.fixture
def base_raw() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def repo_scenario(stem: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{stem}.yaml")
