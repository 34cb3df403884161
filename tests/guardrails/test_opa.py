"""The same policies on a real OPA server: identical decisions, fail-closed when it is down, refusal on a mismatch."""
from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from agents.decide import make_backend
from evals.loader import load_scenario
from evals.scenario import Scenario
from graph.cases import open_case_service
from guardrails.decision import GateDecision
from guardrails.gate import RegoGate, make_gate
from guardrails.opa import OpaGate, OpaStartupError
from guardrails.policy_files import POLICY_DIR, PolicySet
from guardrails.recording import RecordingGate
from tests.conftest import REPO, SCENARIOS, make_scenario
from tools.sim import SimulatedBackend

SCENARIO_DIRS = (SCENARIOS, REPO.parent / "shared" / "scenarios" / "public")


def opa_binary() -> Path | None:
    """RECOURSE_OPA_BIN, else the binary .ci/opa.sh caches for the version it pins."""
    if os.environ.get("RECOURSE_OPA_BIN"):
        return Path(os.environ["RECOURSE_OPA_BIN"])
    pin = re.search(r'OPA_VERSION:-(v[0-9.]+)', (REPO / ".ci" / "opa.sh").read_text())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    binary = cache / "recourse" / f"opa-{pin.group(1)}" / "opa" if pin else None
    return binary if binary and binary.is_file() else None


OPA_BIN = opa_binary()
if OPA_BIN is None:
    if os.environ.get("CI"):
        pytest.fail("CI must run the OPA tests: .ci/opa.sh builds the binary (export RECOURSE_OPA_BIN)", pytrace=False)
    pytest.skip("no OPA binary: run `bash .ci/opa.sh` (builds and caches it) or set RECOURSE_OPA_BIN",
                allow_module_level=True)


class OpaServer:
    """`opa run --server` on a free loopback port, with decision logging on (so responses carry decision_id)."""

    def __init__(self, *paths: str | Path, log: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [str(OPA_BIN), "run", "--server", "--disable-telemetry", "--addr", f"127.0.0.1:{port}",
             "--set", "decision_logs.console=true", *map(str, paths)],
            stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"opa did not start: {log.read_text()[-2000:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def start_opa(tmp_path: Path) -> Iterator[Callable[..., OpaServer]]:
    """Starts servers for one test (optionally loading policy/data paths) and stops them all after it."""
    servers: list[OpaServer] = []

    def start(*paths: str | Path) -> OpaServer:
        servers.append(OpaServer(*paths, log=tmp_path / f"opa-{len(servers)}.log"))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def opa_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpaGate]:
    server = OpaServer(log=tmp_path_factory.mktemp("opa") / "opa.log")
    gate = OpaGate(server.url)
    yield gate
    gate.close()
    server.stop()


def all_scenarios() -> list[Scenario]:
    """evals/scenarios and the public canonical set, by id; plus test worlds that reach approvals and credits."""
    found: dict[str, Scenario] = {}
    for directory in SCENARIO_DIRS:
        for path in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]) if directory.is_dir() else []:
            scenario = load_scenario(path)
            found.setdefault(scenario.id, scenario)
    extra = {
        "t-hazmat": {"world.pickups.0.requirements": ["hazmat"]},
        "t-strategic-no-driver": {"world.customers.0.tier": "strategic", "world.drivers.1.status": "off_duty"},
        "t-priority-no-driver": {"world.customers.0.tier": "priority", "world.vehicles.1.status": "breakdown"},
    }
    for sid, changes in extra.items():
        found[sid] = make_scenario(**{"id": sid, **changes})
    return list(found.values())


async def run_cases(scenarios: list[Scenario], gate: Any, root: Path) -> list[dict[str, Any]]:
    """Each scenario through the case service with `gate`; held actions are approved so approved paths are gated too."""
    seen = []
    for scenario in scenarios:
        backend = SimulatedBackend(scenario.world, scenario.faults)
        async with open_case_service(backend, root / scenario.id, sleep=backend.sleep, gate=gate) as service:
            case_id = (await service.submit(scenario.event)).case_id
            final = await service.run(case_id)
            if final.get("outcome") == "awaiting_approval":
                final = await service.answer_approval(case_id, "approve", by="parity-test")
            audit = await service.store.audit_entries(case_id)
        seen.append({"id": scenario.id, "outcome": final.get("outcome"),
                     "reason": (final.get("escalation") or {}).get("reason"), "effects": list(backend.effects),
                     "decision_ids": [e["payload"]["decision"].get("decision_id") for e in audit if e["kind"] == "gate.decision"]})
    return seen


def verdict(d: GateDecision) -> tuple:
    return (d.allow, d.needs_approval, frozenset((r.rule, r.msg) for r in d.deny),
            frozenset((r.rule, r.msg) for r in d.approval))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """Case stores for the scenario runs; in memory where the machine has /dev/shm (SQLite's syncs dominate on disk)."""
    with tempfile.TemporaryDirectory(prefix="recourse-opa-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        yield Path(d)


@pytest.fixture(scope="module")
def on_rego(scratch: Path) -> tuple[list[dict[str, Any]], RecordingGate]:
    """All scenarios run once on the default engine, with every gate input recorded."""
    recorder = RecordingGate(RegoGate())
    runs = asyncio.run(run_cases(all_scenarios(), recorder, scratch / "rego"))
    return runs, recorder


def test_every_scenario_decision_is_identical_on_opa(on_rego, opa_gate: OpaGate):
    _, recorder = on_rego
    assert len(recorder.inputs) >= 20, "the scenarios should exercise the gate"
    kinds = {(d.allow, d.needs_approval, bool(d.deny)) for _, d in recorder.decisions}
    assert kinds >= {(True, False, False), (False, True, False), (False, False, True)}, "allow, hold and deny all seen"
    rego = RegoGate()
    decided = [(i, verdict(rego.decide(i)), verdict(opa_gate.decide(i))) for i in recorder.inputs]
    differ = [d for d in decided if d[1] != d[2]]
    assert not differ, f"{len(differ)} of {len(recorder.inputs)} decisions differ; first: {differ[0]}"
    for c in recorder.confidences + [0.7, 0.69, 0.0, 1.0]:
        assert rego.confidence_sufficient(c) == opa_gate.confidence_sufficient(c), c


async def test_cases_run_the_same_on_opa_and_audit_its_decision_ids(on_rego, opa_gate: OpaGate, scratch: Path):
    rego_runs, _ = on_rego
    opa_runs = await run_cases(all_scenarios(), opa_gate, scratch / "opa")
    strip = lambda runs: [{k: v for k, v in r.items() if k != "decision_ids"} for r in runs]  # noqa: E731
    assert strip(opa_runs) == strip(rego_runs)
    ids = [i for r in opa_runs for i in r["decision_ids"]]
    assert ids and all(ids) and len(set(ids)) == len(ids)
    assert not any(i for r in rego_runs for i in r["decision_ids"])


def awkward_inputs(n: int = 120) -> list[dict[str, Any]]:
    """Gate inputs with the numbers engines disagree on if a policy is careless: long floats, halves, threshold edges."""
    rng = random.Random(6)
    now, end = 1_795_537_200, 1_795_539_600
    base = {"now": now, "customer": {"id": "C1", "tier": "priority", "notify": True},
            "pickup": {"id": "P1", "status": "missed", "customer_id": "C1", "driver_id": "D1", "requirements": [],
                       "weight_kg": 400.0, "value_usd": 1800.0, "window": {"start": now - 1800, "end": end}},
            "case": {"confidence": 0.9, "category": "driver_unavailable", "cause": "exception", "notifications": 0,
                     "credits": 0, "changes_pickup": True, "new_window": {"start": end + 86400, "end": end + 90000}}}
    edges = [0.7, 0.7000000000000001, 0.6999999999999998, 0.69, 0.1 + 0.2 + 0.4, 0.695, 0.005, 1.0, 0.0]
    inputs = []
    for i in range(n):
        confidence = edges[i] if i < len(edges) else rng.choice([round(rng.random(), 2), rng.random()])
        case = {**base["case"], "confidence": confidence}
        weight = rng.choice([400.0, round(rng.uniform(100, 2000), rng.choice([1, 2, 3])), rng.uniform(100, 2000)])
        pickup = {**base["pickup"], "weight_kg": weight, "value_usd": round(rng.uniform(0, 5000), rng.choice([0, 2, 3]))}
        driver = {"id": "D2", "status": "on_duty", "skills": [], "distance_km": round(rng.uniform(0, 150), rng.choice([1, 3, 9])),
                  "shift_end": end + rng.randrange(-7200, 7200)}
        vehicle = {"id": "V2", "status": "ok", "features": [], "capacity_kg": rng.choice([1000.0, 1000.5, rng.uniform(0, 3000)])}
        inputs.append({**base, "pickup": pickup, "case": case, "driver": driver, "vehicle": vehicle,
                       "now": now + rng.randrange(0, 2400), "action": {"tool": "reassign_driver",
                                                                       "args": {"pickup_id": "P1", "driver_id": "D2"}}})
        due = round(pickup["value_usd"] * 0.05)
        amount = rng.choice([float(due), due + 0.5, round(rng.uniform(1, 300), 2), rng.uniform(1, 300)])
        inputs.append({**base, "pickup": pickup, "case": case,
                       "action": {"tool": "issue_credit", "args": {"customer_id": "C1", "amount_usd": amount}}})
    return inputs


def test_awkward_numbers_decide_and_read_the_same_on_opa(opa_gate: OpaGate):
    rego = RegoGate()
    inputs = awkward_inputs()
    decided = [(i, verdict(rego.decide(i)), verdict(opa_gate.decide(i))) for i in inputs]
    differ = [d for d in decided if d[1] != d[2]]
    assert not differ, f"{len(differ)} of {len(inputs)} decisions differ; first: {differ[0]}"
    rules = {rule for _, v, _ in decided for rule, _ in v[2] | v[3]}
    assert rules >= {"gate.low_confidence", "reassign.capacity", "reassign.shift_margin", "reassign.cannot_reach",
                     "credit.amount", "credit.over_limit"}, rules


def test_opa_decision_matches_the_revision_and_carries_an_id(opa_gate: OpaGate):
    d = opa_gate.decide({"action": {"tool": "cancel_pickup", "args": {}}, "case": {"confidence": 0.9},
                         "pickup": {"id": "P1", "status": "missed"}})
    assert d.needs_approval and not d.allow and d.engine == "opa"
    assert d.policy_revision == RegoGate().revision and d.decision_id


def test_stopped_server_denies_with_policy_unavailable(start_opa):
    server = start_opa()
    gate = OpaGate(server.url, timeout_s=0.2)
    server.stop()
    started = time.monotonic()
    d = gate.decide({"action": {"tool": "notify_customer", "args": {}}, "case": {"confidence": 0.9}})
    assert time.monotonic() - started < 1
    assert not d.allow and not d.needs_approval and [r.rule for r in d.deny] == ["gate.policy_unavailable"]
    assert gate.confidence_sufficient(1.0) is None  # no answer: falsy, and distinguishable from a policy "no"


def test_undefined_result_denies_with_policy_unavailable(start_opa):
    server = start_opa()
    gate = OpaGate(server.url)
    httpx.delete(f"{server.url}/v1/policies/recourse/gate.rego").raise_for_status()  # 200 with no "result" now
    d = gate.decide({"action": {"tool": "notify_customer", "args": {}}, "case": {"confidence": 0.9}})
    assert not d.allow and [r.rule for r in d.deny] == ["gate.policy_unavailable"] and d.decision_id
    assert "undefined" in d.deny[0].msg
    httpx.delete(f"{server.url}/v1/policies/recourse/confidence.rego").raise_for_status()
    assert gate.confidence_sufficient(1.0) is None


@pytest.mark.parametrize("answer, rule", [
    (httpx.Response(503, text="overloaded"), "gate.policy_unavailable"),
    (httpx.Response(500, json={"code": "internal_error", "message": "eval_conflict_error"}), "gate.policy_unavailable"),
    (httpx.ReadTimeout("slow"), "gate.policy_unavailable"),
    (httpx.Response(200, text="<html>"), "gate.policy_unavailable"),
    (httpx.Response(400, json={"code": "invalid_parameter", "message": "bad input"}), "gate.error"),
    (httpx.Response(200, json={"result": {"allow": "perhaps"}}), "gate.error"),
])
def test_every_failure_to_get_a_decision_denies(opa_gate: OpaGate, answer, rule):
    def reply(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    real = opa_gate._http
    opa_gate._http = httpx.Client(base_url=opa_gate.url, transport=httpx.MockTransport(reply))
    try:
        d = opa_gate.decide({"action": {"tool": "notify_customer", "args": {}}, "case": {"confidence": 0.9}})
        assert not d.allow and not d.needs_approval and [r.rule for r in d.deny] == [rule]
        assert opa_gate.confidence_sufficient(1.0) is (None if rule == "gate.policy_unavailable" else False)
    finally:
        opa_gate._http = real


class StopOpaBeforePlanning:
    """The rules backend, except that the OPA server goes down after classification and candidate screening."""

    def __init__(self, server: OpaServer):
        self.inner, self.server = make_backend("rules"), server
        self.name = self.inner.name

    async def classify(self, event, facts):
        return await self.inner.classify(event, facts)

    async def plan(self, planning):
        self.server.stop()
        return await self.inner.plan(planning)


async def test_opa_going_down_mid_case_executes_nothing_and_escalates(start_opa, tmp_path: Path):
    server = start_opa()
    gate = OpaGate(server.url, timeout_s=0.2)
    backend = SimulatedBackend(make_scenario().world)
    async with open_case_service(backend, tmp_path, sleep=backend.sleep, gate=gate,
                                 decider=StopOpaBeforePlanning(server)) as service:
        case_id = (await service.submit(make_scenario().event)).case_id
        final = await service.run(case_id)
        audit = await service.store.audit_entries(case_id)
        row = await service.store.get_case(case_id)
    assert backend.effects == []
    assert final["outcome"] == "escalated" and final["escalation"]["reason"] == "policy_unavailable"
    assert row.status == "escalated"
    gated = [e["payload"] for e in audit if e["kind"] == "gate.decision"]
    assert gated and {g["disposition"] for g in gated} <= {"denied", "blocked"}
    assert {r["rule"] for g in gated for r in g["decision"]["deny"]} == {"gate.policy_unavailable"}
    assert not [e for e in audit if e["kind"] == "action"]
    assert [e["kind"] for e in audit][-1] == "case.escalated"


async def test_case_with_opa_down_from_the_start_executes_nothing_and_escalates_as_policy_unavailable(
        start_opa, tmp_path: Path):
    server = start_opa()
    gate = OpaGate(server.url, timeout_s=0.2)
    server.stop()
    backend = SimulatedBackend(make_scenario().world)
    async with open_case_service(backend, tmp_path, sleep=backend.sleep, gate=gate) as service:
        final = await service.run((await service.submit(make_scenario().event)).case_id)
    assert backend.effects == []
    assert final["outcome"] == "escalated"
    assert final["escalation"]["reason"] == "policy_unavailable"


def test_server_with_a_different_data_document_is_refused(start_opa, tmp_path: Path):
    other = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, other)
    data = (other / "data.json").read_text()
    (other / "data.json").write_text(data.replace('"min_confidence": 0.7', '"min_confidence": 0.5'))
    server = start_opa(other)
    with pytest.raises(OpaStartupError, match=r"data\.recourse\.config differs: min_confidence: server 0\.5, repo 0\.7"):
        OpaGate(server.url, upload=False)


def test_server_loading_the_repo_policies_itself_is_accepted(start_opa):
    server = start_opa(POLICY_DIR)  # as a sidecar would: files (tests included) loaded by OPA, nothing uploaded
    gate = OpaGate(server.url, upload=False)
    assert gate.revision == PolicySet().revision
    assert gate.confidence_sufficient(0.7)


def test_stale_module_on_the_server_is_refused_even_after_upload(start_opa):
    server = start_opa()
    stale = 'package recourse.gate\n\nimport rego.v1\n\ndeny contains {"rule": "old.rule", "msg": "x"} if false\n'
    httpx.put(f"{server.url}/v1/policies/old/gate_extra.rego", content=stale).raise_for_status()
    with pytest.raises(OpaStartupError, match=r"module old/gate_extra\.rego \(recourse\.gate\) is not in the repo"):
        OpaGate(server.url)


def test_empty_server_without_upload_is_refused(start_opa):
    server = start_opa()
    with pytest.raises(OpaStartupError, match="module gate.rego is missing or differs"):
        OpaGate(server.url, upload=False)


def test_unreachable_server_refuses_to_start():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OpaStartupError, match="did not answer /health"):
        OpaGate(f"http://127.0.0.1:{port}", startup_timeout_s=0.2)


def test_make_gate_picks_the_engine(opa_gate: OpaGate):
    assert make_gate(None).engine == "regopy"
    gate = make_gate(opa_gate.url, timeout_s=0.3)
    assert gate.engine == "opa" and gate.timeout_s == 0.3


def test_input_that_cannot_be_sent_denies_instead_of_crashing(opa_gate: OpaGate):
    d = opa_gate.decide({"action": {"tool": "notify_customer", "args": {"when": object()}}})
    assert not d.allow and [r.rule for r in d.deny] == ["gate.error"]
