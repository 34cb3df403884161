"""Seeded random faults in the simulator: deterministic by seed and key, near the asked rate, and an
applied timeout still takes effect once."""
import pytest

from tests.conftest import make_scenario
from tools.errors import OpsTimeout, OpsUnavailable
from tools.sim import FaultRate, SimulatedBackend
from tools.sim.persist import PersistentSimulatedBackend


def draws(rate: FaultRate, n: int = 20_000) -> list:
    return [rate.draw("notify_customer", f"key-{i}", 1) for i in range(n)]


def test_the_same_seed_gives_the_same_faults_and_another_seed_others():
    assert draws(FaultRate(rate=0.05, seed=1), 2000) == draws(FaultRate(rate=0.05, seed=1), 2000)
    assert draws(FaultRate(rate=0.05, seed=1), 2000) != draws(FaultRate(rate=0.05, seed=2), 2000)


def test_faults_come_near_the_rate_mixed_and_only_timeouts_applied():
    faults = [f for f in draws(FaultRate(rate=0.05, seed=3)) if f is not None]
    assert 0.04 < len(faults) / 20_000 < 0.06
    kinds = {(f.error.value, f.applied) for f in faults}
    assert kinds == {("timeout", True), ("timeout", False), ("unavailable", False)}


async def test_retrying_a_key_meets_fresh_draws_and_applies_once():
    sim = SimulatedBackend(make_scenario().world, fault_rate=FaultRate(rate=0.5, seed=11))
    errors = []
    for _ in range(20):
        try:
            await sim.reassign_driver("P1", "D2", idempotency_key="k")
            break
        except (OpsTimeout, OpsUnavailable) as exc:
            errors.append(exc.code)
    else:
        pytest.fail("twenty straight faults at rate 0.5")
    assert errors  # seed 11 fails this key's first call
    assert len(sim.effects) == 1 and sim.pickups["P1"].driver_id == "D2"


async def test_a_resumed_simulator_replays_its_journal_without_faults(tmp_path):
    scenario = make_scenario()
    sim = PersistentSimulatedBackend.open(tmp_path, scenario.world, scenario.faults)
    await sim.reassign_driver("P1", "D2", idempotency_key="k")
    again = PersistentSimulatedBackend.open(tmp_path, fault_rate=FaultRate(rate=1.0))
    assert again.pickups["P1"].driver_id == "D2" and len(again.effects) == 1
    with pytest.raises((OpsTimeout, OpsUnavailable)):
        await again.notify_customer("C1", "P1", "hello", idempotency_key="n")
