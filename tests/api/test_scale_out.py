"""Scale-out on PostgreSQL: the API, three `recourse worker` processes and the simulator as a service.
Every scenario through it, then 500 generated cases with one worker killed mid-run."""
from __future__ import annotations

import time

import httpx
import yaml

from evals.fleet import fleet_event, fleet_scenario
from evals.grading import Observation, duplicate_count, grade
from evals.loader import load_directory
from tests.api.server import Server, SimServer, Worker, create_key
from tests.api.test_real_server import TERMINAL
from tests.conftest import SCENARIOS
from tests.pg import pg_url  # noqa: F401 - fixture


def wait_all(client, case_ids, headers, timeout):
    deadline, views = time.monotonic() + timeout, {}
    while time.monotonic() < deadline and len(views) < len(case_ids):
        for case_id in case_ids:
            if case_id not in views:
                view = client.get(f"/v1/cases/{case_id}", headers=headers).json()
                if view["status"] in TERMINAL:
                    views[case_id] = view
        time.sleep(0.1)
    return views


def test_three_workers_on_postgres_survive_losing_one(pg_url, tmp_path):  # noqa: F811
    env = {"database_url": pg_url, "retry_base_delay_s": 0.05, "lease_s": 3}
    scenarios = load_directory(SCENARIOS)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(fleet_scenario(500)))
    sim = SimServer(tmp_path / "sim", SCENARIOS / f"{scenarios[0].id}.yaml").start()
    processes = [sim]
    try:
        keys = {role: {"Authorization": f"Bearer {create_key(tmp_path, role, database_url=pg_url)}"} for role in ("submitter", "dispatcher")}
        api = Server(tmp_path, ops_url=sim.url, workers=0, **env).start()
        workers = [Worker(tmp_path, sim.url, workers=3, **env).start() for _ in range(3)]
        processes += [api, *workers]
        failures = []
        with httpx.Client(base_url=api.url, timeout=60) as client, httpx.Client(base_url=sim.url, timeout=60) as ops:
            for scenario in scenarios:
                load = {"world": scenario.world.model_dump(mode="json"),
                        "faults": [f.model_dump(mode="json") for f in scenario.faults or []]}
                assert ops.put("/world", json=load).status_code == 200
                case_id = client.post("/v1/exceptions", json=scenario.event.model_dump(mode="json"), headers=keys["submitter"]).json()["case_id"]
                view = wait_all(client, [case_id], keys["dispatcher"], 30)[case_id]
                seen = ops.get("/effects").json()
                allowed = {d["key"] for d in view["gate_decisions"] if d["disposition"] == "allowed"}
                result = grade(scenario, Observation(view["status"], view["category"], seen["world"], seen["effects"], allowed, view["escalation"]))
                if not result.passed:
                    failures.append(f"{scenario.id}: {result.reasons}")
                if view["status"] == "awaiting_approval":  # close it, as a dispatcher would, before the next world
                    client.post(f"/v1/cases/{case_id}/approvals", json={"decision": "reject"}, headers=keys["dispatcher"])
            assert not failures, "\n".join(failures)

            fleet_load = yaml.safe_load(fleet.read_text())
            assert ops.put("/world", json={"world": fleet_load["world"], "faults": []}).status_code == 200
            case_ids = [client.post("/v1/exceptions", json=fleet_event(i), headers=keys["submitter"]).json()["case_id"]
                        for i in range(500)]
            time.sleep(1.0)
            workers[0].kill()
            views = wait_all(client, case_ids, keys["dispatcher"], 240)
            effects = ops.get("/effects").json()["effects"]
            chain = client.get("/v1/audit/verify", headers=keys["dispatcher"]).json()
    finally:
        for process in reversed(processes):
            process.stop()
    assert len(views) == 500, f"{500 - len(views)} cases not terminal"
    assert {v["status"] for v in views.values()} == {"resolved"}
    assert duplicate_count(effects) == 0 and len(effects) == 1000
    assert chain["ok"] is True

