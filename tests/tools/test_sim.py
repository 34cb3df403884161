"""The simulated backend behaves like a real API with Idempotency-Key headers and injected faults."""
import pytest

from tests.conftest import make_scenario
from tools.errors import OpsConflict, OpsTimeout, OpsUnavailable
from tools.sim import Fault, SimulatedBackend


def backend(faults=()):
    return SimulatedBackend(make_scenario().world, [Fault(**f) for f in faults])


async def test_repeated_key_returns_first_receipt_and_applies_once():
    sim = backend()
    first = await sim.reassign_driver("P1", "D2", idempotency_key="k")
    again = await sim.reassign_driver("P1", "D2", idempotency_key="k")
    assert again.effect_id == first.effect_id
    assert len(sim.effects) == 1
    assert (await sim.get_pickup("P1")).driver_id == "D2"


async def test_applied_timeout_applies_then_loses_the_reply():
    sim = backend([{"tool": "reassign_driver", "call": 1, "error": "timeout", "applied": True}])
    with pytest.raises(OpsTimeout):
        await sim.reassign_driver("P1", "D2", idempotency_key="k")
    assert (await sim.get_pickup("P1")).driver_id == "D2"
    await sim.reassign_driver("P1", "D2", idempotency_key="k")
    assert len(sim.effects) == 1


async def test_unapplied_fault_changes_nothing_and_counts_calls_per_tool():
    sim = backend([{"tool": "notify_customer", "call": 2, "error": "unavailable", "applied": False},
                   {"tool": "reassign_driver", "call": 1, "error": "conflict"}])
    await sim.notify_customer("C1", "P1", "hi", idempotency_key="n1")
    with pytest.raises(OpsUnavailable):
        await sim.notify_customer("C1", "P1", "hi", idempotency_key="n2")
    with pytest.raises(OpsConflict):
        await sim.reassign_driver("P1", "D2", idempotency_key="r1")
    assert [e["idempotency_key"] for e in sim.effects] == ["n1"]
    assert (await sim.get_pickup("P1")).driver_id == "D1"


async def test_outage_fails_every_action():
    sim = backend()
    sim.outage = True
    with pytest.raises(OpsUnavailable):
        await sim.issue_credit("C1", 10, "x", idempotency_key="c")
    assert sim.effects == []


def test_fault_for_unknown_tool_is_rejected():
    with pytest.raises(ValueError, match="fault tool 'drop_table'"):
        Fault(tool="drop_table", call=1, error="timeout")
