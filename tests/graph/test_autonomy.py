"""Autonomy controls: shadow executes nothing, supervised holds everything, the pause switch holds and resumes."""
import json
import shutil
from collections import Counter

from graph.cases import open_case_service
from guardrails.gate import RegoGate
from guardrails.policy_files import POLICY_DIR, PolicySet
from tests.conftest import make_scenario
from tools.sim import SimulatedBackend


async def test_shadow_mode_records_the_would_be_actions_and_executes_nothing(tmp_path):
    scenario = make_scenario()
    backend = SimulatedBackend(scenario.world)
    async with open_case_service(backend, tmp_path, sleep=backend.sleep, mode="shadow") as service:
        case_id = (await service.submit(scenario.event)).case_id
        final = await service.run(case_id)
        audit = await service.store.audit_entries(case_id)
        row = await service.store.get_case(case_id)
    assert backend.effects == [] and backend.pickups["P1"].driver_id == "D1"
    assert final["outcome"] == "shadowed" and row.status == "shadowed"
    shadowed = next(e["payload"] for e in audit if e["kind"] == "case.shadowed")
    assert shadowed["would_be"] == "resolved"
    assert [(a["tool"], a["disposition"]) for a in shadowed["would_do"]] == [
        ("reassign_driver", "shadow_allowed"), ("notify_customer", "shadow_allowed")]
    assert all(e["payload"]["decision"]["level"] == "shadow" for e in audit if e["kind"] == "gate.decision")


async def test_supervised_intent_holds_every_action_of_it(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    data = json.loads((policies / "data.json").read_text())
    data["recourse"]["config"]["autonomy"]["reassign_driver"] = "supervised"
    (policies / "data.json").write_text(json.dumps(data))
    scenario = make_scenario()
    backend = SimulatedBackend(scenario.world)
    async with open_case_service(backend, tmp_path / "d", sleep=backend.sleep, gate=RegoGate(PolicySet(policies))) as service:
        case_id = (await service.submit(scenario.event)).case_id
        waiting = await service.run(case_id)
        assert waiting["outcome"] == "awaiting_approval" and backend.effects == []
        held = waiting["escalation"]["held_actions"]
        assert held[0]["tool"] == "reassign_driver" and held[0]["reasons"][0]["rule"] == "autonomy.supervised"
        assert held[1]["tool"] == "notify_customer"  # waits for the reassignment it reports
        done = await service.answer_approval(case_id, "approve", by="dispatcher")
    assert done["outcome"] == "resolved" and Counter(e["tool"] for e in backend.effects) == {"reassign_driver": 1, "notify_customer": 1}


class PausesAfterReassign(SimulatedBackend):
    """The operator hits pause just as the reassignment lands."""

    service = None

    async def reassign_driver(self, *args, **kwargs):
        receipt = await super().reassign_driver(*args, **kwargs)
        await self.service.set_pause(True, by="ops-lead")
        return receipt


async def test_pause_stops_a_run_mid_plan_and_resume_completes_it_without_duplicates(tmp_path):
    scenario = make_scenario()
    backend = PausesAfterReassign(scenario.world)
    async with open_case_service(backend, tmp_path, sleep=backend.sleep) as service:
        backend.service = service
        case_id = (await service.submit(scenario.event)).case_id
        held = await service.run(case_id)
        assert held["outcome"] == "paused" and (await service.store.get_case(case_id)).status == "paused"
        assert [e["tool"] for e in backend.effects] == ["reassign_driver"]  # the notify did not go out
        await service.set_pause(False, by="ops-lead")
        row = await service.store.get_case(case_id)
        assert row.approval == {"decision": "resume", "by": "ops-lead"}
        done = await service.apply_approval(case_id, row.approval)
        audit = [e["kind"] for e in await service.store.audit_entries("system")]
    assert done["outcome"] == "resolved"
    assert Counter(e["tool"] for e in backend.effects) == {"reassign_driver": 1, "notify_customer": 1}
    assert audit == ["controls.set", "controls.set"]


async def test_pause_of_one_intent_leaves_the_others_running(tmp_path):
    scenario = make_scenario()
    backend = SimulatedBackend(scenario.world)
    async with open_case_service(backend, tmp_path, sleep=backend.sleep) as service:
        await service.set_pause(True, by="ops", intent="notify_customer")
        final = await service.run((await service.submit(scenario.event)).case_id)
    assert final["outcome"] == "paused" and [e["tool"] for e in backend.effects] == ["reassign_driver"]


async def test_shadow_report_compares_would_be_with_what_people_did(tmp_path):
    from evals.shadow_report import shadow_report

    agreeing, differing = make_scenario(), make_scenario(**{"event.id": "EVT-T-2", "event.pickup_id": "P1"})
    backend = SimulatedBackend(agreeing.world)
    async with open_case_service(backend, tmp_path, sleep=backend.sleep, mode="shadow") as service:
        await service.run((await service.submit(agreeing.event)).case_id)
        # the dispatcher does by hand what Recourse proposed
        await backend.reassign_driver("P1", "D2", idempotency_key="human-1")
        await backend.notify_customer("C1", "P1", "new driver", idempotency_key="human-2")
        rows = await shadow_report(service.store, backend)
    assert len(rows) == 1 and rows[0].would_do == ["reassign_driver:D2", "notify_customer"] and rows[0].agrees
    other = SimulatedBackend(differing.world)
    async with open_case_service(other, tmp_path / "b", sleep=other.sleep, mode="shadow") as service:
        await service.run((await service.submit(differing.event)).case_id)
        await other.reassign_driver("P1", "D3", idempotency_key="human-1")  # they chose someone else, told nobody
        rows = await shadow_report(service.store, other)
    assert rows[0].actually_did == ["reassign_driver:D3"] and not rows[0].agrees
