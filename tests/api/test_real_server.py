"""Against a real `recourse serve` process on 127.0.0.1: every scenario, and a kill -9 in the middle of work."""
from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest
import yaml

from evals.grading import Observation, duplicate_count, grade
from evals.fleet import fleet_event, fleet_scenario
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


def test_kill_9_mid_run_then_restart_finishes_every_case_without_duplicates(tmp_path, keys):
    count = 30
    world = tmp_path / "fleet.yaml"
    faults = [{"tool": "reassign_driver", "call": n, "error": "timeout", "applied": True} for n in range(1, 4 * count, 3)]
    world.write_text(yaml.safe_dump(fleet_scenario(count, faults)))
    server = Server(tmp_path, world=world, retry_base_delay_s=0.5, workers=4, lease_s=2).start()
    case_ids = []
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(count):
            accepted = client.post("/v1/exceptions", json=fleet_event(i), headers=keys["submitter"])
            assert accepted.status_code == 202
            case_ids.append(accepted.json()["case_id"])
        statuses = Counter(client.get(f"/v1/cases/{c}", headers=keys["dispatcher"]).json()["status"] for c in case_ids)
    server.kill()
    assert statuses["resolved"] < count, f"nothing was in flight when killed: {statuses}"

    restarted = Server(tmp_path, port=server.port, retry_base_delay_s=0.5, workers=4, lease_s=2).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=10) as client:
            views = [wait_terminal(client, c, keys["dispatcher"], timeout=60) for c in case_ids]
            sim = client.get("/v1/sim/effects", headers=keys["admin"]).json()
    finally:
        restarted.stop()
    # Faults land on global call numbers, so a case whose three attempts all hit one escalates; that is correct.
    outcomes = {v["event_id"]: (v["status"], (v["escalation"] or {}).get("reason")) for v in views}
    assert set(outcomes.values()) <= {("resolved", None), ("escalated", "retries_exhausted")}, outcomes
    effects = sim["effects"]
    assert duplicate_count(effects) == 0
    per_pickup = Counter((e["tool"], e["args"]["pickup_id"]) for e in effects)
    for i in range(count):
        resolved = outcomes[f"EVT-{i}"][0] == "resolved"
        assert per_pickup[("reassign_driver", f"P{i}")] == 1 and per_pickup[("notify_customer", f"P{i}")] == int(resolved)
        assert sim["world"]["pickups"][f"P{i}"]["driver_id"] == f"R{i}"
    assert sum(status == "resolved" for status, _ in outcomes.values()) >= count - 3
