"""Against a real `recourse serve` process on 127.0.0.1: every scenario, and a kill -9 in the middle of work."""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import yaml

from evals.grading import Observation, duplicate_count, grade
from evals.loader import load_directory
from tests.api.server import Server, create_key
from tests.conftest import SCENARIOS

TERMINAL = {"resolved", "escalated", "awaiting_approval", "failed"}


def wait_terminal(client: httpx.Client, case_id: str, headers: dict, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get(f"/v1/cases/{case_id}", headers=headers).json()
        if view["status"] in TERMINAL:
            return view
        time.sleep(0.03)
    raise AssertionError(f"{case_id} still {view['status']}")


@pytest.fixture
def keys(tmp_path):
    return {role: {"Authorization": f"Bearer {create_key(tmp_path, role)}"} for role in ("admin", "submitter", "dispatcher")}


def test_every_scenario_through_a_real_server(tmp_path, keys):
    scenarios = load_directory(SCENARIOS)
    server = Server(tmp_path, world=SCENARIOS / f"{scenarios[0].id}.yaml", retry_base_delay_s=0).start()
    failures = []
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for scenario in scenarios:
                load = {"world": scenario.world.model_dump(mode="json"),
                        "faults": [f.model_dump(mode="json") for f in scenario.faults or []]}
                assert client.put("/v1/sim/world", json=load, headers=keys["admin"]).status_code == 200
                accepted = client.post("/v1/exceptions", json=scenario.event.model_dump(mode="json"), headers=keys["submitter"])
                assert accepted.status_code == 202, accepted.text
                view = wait_terminal(client, accepted.json()["case_id"], keys["dispatcher"])
                sim = client.get("/v1/sim/effects", headers=keys["admin"]).json()
                allowed = {d["key"] for d in view["gate_decisions"] if d["disposition"] == "allowed"}
                audit = client.get(f"/v1/cases/{view['id']}/audit", headers=keys["dispatcher"]).json()
                allowed |= {e["payload"]["key"] for e in audit if e["kind"] == "gate.decision" and e["payload"]["disposition"] == "allowed"}
                seen = Observation(outcome=view["status"], category=view["category"], world=sim["world"], effects=sim["effects"],
                                   allowed_keys=allowed, escalation=view["escalation"])
                result = grade(scenario, seen)
                if not result.passed:
                    failures.append(f"{scenario.id}: {result.reasons}")
    finally:
        server.stop()
    assert not failures, "\n".join(failures)


def fleet_scenario(pickups: int) -> dict:
    """A world where every pickup's driver is sick and a qualified replacement waits nearby; reassign calls
    time out after applying (reply lost) now and then, so cases are mid-flight when the server dies."""
    now = datetime(2026, 11, 20, 14, tzinfo=timezone.utc)
    drivers, vehicles, plist, customers = [], [], [], []
    for i in range(pickups):
        lat, lon = 52.0 + (i % 10) * 0.1, 4.5 + (i // 10) * 0.1
        customers.append({"id": f"C{i}", "name": f"Customer {i}", "tier": "standard", "notify": True})
        for role, status, dlat in (("S", "sick", 0.0), ("R", "on_duty", 0.01)):
            drivers.append({"id": f"{role}{i}", "status": status, "location": {"lat": lat + dlat, "lon": lon},
                            "shift_end": (now + timedelta(hours=8)).isoformat(), "skills": [], "vehicle_id": f"V{role}{i}"})
            vehicles.append({"id": f"V{role}{i}", "type": "van", "capacity_kg": 1000, "status": "ok", "features": []})
        plist.append({"id": f"P{i}", "customer_id": f"C{i}", "location": {"lat": lat + 0.005, "lon": lon},
                      "window": {"start": now.isoformat(), "end": (now + timedelta(hours=3)).isoformat()},
                      "weight_kg": 100, "requirements": [], "value_usd": 500, "status": "missed", "driver_id": f"S{i}"})
    faults = [{"tool": "reassign_driver", "call": n, "error": "timeout", "applied": True} for n in range(1, 4 * pickups, 3)]
    return {"format": 1, "id": "fleet", "title": "fleet", "world": {"now": now.isoformat(), "customers": customers,
            "drivers": drivers, "vehicles": vehicles, "pickups": plist}, "faults": faults,
            "event": {"id": "X", "type": "driver_unavailable", "pickup_id": "P0"}, "expect": {"outcome": "resolved"}}


def test_kill_9_mid_run_then_restart_finishes_every_case_without_duplicates(tmp_path, keys):
    count = 30
    world = tmp_path / "fleet.yaml"
    world.write_text(yaml.safe_dump(fleet_scenario(count)))
    server = Server(tmp_path, world=world, retry_base_delay_s=0.2, workers=4).start()
    case_ids = []
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(count):
            event = {"id": f"EVT-{i}", "type": "driver_unavailable", "pickup_id": f"P{i}", "note": "out sick"}
            accepted = client.post("/v1/exceptions", json=event, headers=keys["submitter"])
            assert accepted.status_code == 202
            case_ids.append(accepted.json()["case_id"])
        statuses = Counter(client.get(f"/v1/cases/{c}", headers=keys["dispatcher"]).json()["status"] for c in case_ids)
    server.kill()
    assert statuses["resolved"] < count, f"nothing was in flight when killed: {statuses}"

    restarted = Server(tmp_path, port=server.port, retry_base_delay_s=0.2, workers=4).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=10) as client:
            views = [wait_terminal(client, c, keys["dispatcher"], timeout=60) for c in case_ids]
            sim = client.get("/v1/sim/effects", headers=keys["admin"]).json()
    finally:
        restarted.stop()
    assert [v["status"] for v in views] == ["resolved"] * count
    effects = sim["effects"]
    assert duplicate_count(effects) == 0
    assert Counter(e["tool"] for e in effects) == {"reassign_driver": count, "notify_customer": count}
    assert all(sim["world"]["pickups"][f"P{i}"]["driver_id"] == f"R{i}" for i in range(count))
