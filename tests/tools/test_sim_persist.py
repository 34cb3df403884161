"""The served simulator keeps its system of record across restarts, applying nothing twice."""
import pytest

from tests.conftest import make_scenario
from tools.errors import OpsTimeout
from tools.sim import Fault
from tools.sim.persist import PersistentSimulatedBackend


async def test_reopened_simulator_has_the_same_record_receipts_and_call_counts(tmp_path):
    world = make_scenario().world
    sim = PersistentSimulatedBackend.open(tmp_path, world, [Fault(tool="reassign_driver", call=1, error="timeout", applied=True)])
    with pytest.raises(OpsTimeout):
        await sim.reassign_driver("P1", "D2", idempotency_key="k1")
    await sim.notify_customer("C1", "P1", "moved", idempotency_key="k2")
    again = PersistentSimulatedBackend.open(tmp_path)
    assert again.pickups["P1"].driver_id == "D2" and again.calls == {"reassign_driver": 1, "notify_customer": 1}
    await again.reassign_driver("P1", "D2", idempotency_key="k1")  # the retry after the lost reply
    assert [e["idempotency_key"] for e in again.effects] == ["k1", "k2"]
    assert len(again.notifications) == 1


async def test_torn_last_journal_line_is_ignored(tmp_path):
    sim = PersistentSimulatedBackend.open(tmp_path, make_scenario().world)
    await sim.reassign_driver("P1", "D2", idempotency_key="k1")
    with (tmp_path / "sim-journal.jsonl").open("a") as journal:
        journal.write('{"tool": "notify_cust')
    assert len(PersistentSimulatedBackend.open(tmp_path).effects) == 1


def test_reset_replaces_the_world(tmp_path):
    sim = PersistentSimulatedBackend.open(tmp_path, make_scenario().world)
    sim.reset(make_scenario(**{"world.pickups.0.status": "picked_up"}).world, [])
    assert PersistentSimulatedBackend.open(tmp_path).pickups["P1"].status == "picked_up"


async def test_journal_keeps_working_after_a_torn_line(tmp_path):
    sim = PersistentSimulatedBackend.open(tmp_path, make_scenario().world)
    await sim.reassign_driver("P1", "D2", idempotency_key="k1")
    with (tmp_path / "sim-journal.jsonl").open("a") as journal:
        journal.write('{"tool": "notify_cust')
    reopened = PersistentSimulatedBackend.open(tmp_path)
    await reopened.notify_customer("C1", "P1", "moved", idempotency_key="k2")
    assert [e["idempotency_key"] for e in PersistentSimulatedBackend.open(tmp_path).effects] == ["k1", "k2"]
