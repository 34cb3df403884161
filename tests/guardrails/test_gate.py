"""The gate decides each runbook rule, fails closed, and never sees free text."""
from datetime import datetime, timedelta, timezone

import pytest

from guardrails.facts import CaseStanding, epoch, policy_input
from guardrails.gate import RegoGate
from guardrails.policy_files import PolicySet
from tests.conftest import make_scenario
from tools.sim import SimulatedBackend
from tools.read import gather_case_facts

GATE = RegoGate()


async def facts_for(**changes):
    return await gather_case_facts(SimulatedBackend(make_scenario(**changes).world), "P1", candidates=50)


def standing(**kw):
    return CaseStanding(**{"confidence": 0.9, "category": "driver_unavailable", "cause": "exception", **kw})


def rules(decision):
    return {r.rule for r in decision.deny} | {r.rule for r in decision.approval}


async def test_nearby_qualified_driver_is_allowed():
    d = GATE.decide(policy_input("reassign_driver", {"pickup_id": "P1", "driver_id": "D2"}, await facts_for(), standing()))
    assert d.allow and not d.deny


@pytest.mark.parametrize("changes, rule", [
    ({"world.drivers.1.status": "on_break"}, "reassign.driver_not_on_duty"),
    ({"world.pickups.0.requirements": ["hazmat"]}, "reassign.skill_missing"),
    ({"world.vehicles.1.status": "breakdown"}, "reassign.vehicle_not_ok"),
    ({"world.pickups.0.weight_kg": 1000.5}, "reassign.capacity"),
    ({"world.drivers.1.shift_end": "2026-11-20T16:59:00Z"}, "reassign.shift_margin"),
    ({"world.now": "2026-11-20T15:59:00Z"}, "reassign.cannot_reach"),
])
async def test_each_reassign_rule_denies(changes, rule):
    d = GATE.decide(policy_input("reassign_driver", {"pickup_id": "P1", "driver_id": "D2"}, await facts_for(**changes), standing()))
    assert not d.allow and rule in rules(d)


async def test_shift_ending_exactly_sixty_minutes_after_window_qualifies():
    facts = await facts_for(**{"world.drivers.1.shift_end": "2026-11-20T17:00:00Z"})
    assert GATE.decide(policy_input("reassign_driver", {"pickup_id": "P1", "driver_id": "D2"}, facts, standing())).allow


def window(facts, days):
    return {"start": (facts.pickup.window.start + timedelta(days=days)).isoformat(),
            "end": (facts.pickup.window.end + timedelta(days=days)).isoformat()}


@pytest.mark.parametrize("changes, days, expected", [
    ({}, 1, set()),
    ({"world.customers.0.tier": "strategic"}, 1, {"reschedule.strategic_customer"}),
    ({"world.pickups.0.requirements": ["hazmat"]}, 1, {"reschedule.hazmat"}),
    ({}, 3, {"reschedule.beyond_horizon"}),
])
async def test_reschedule_approval_rules(changes, days, expected):
    facts = await facts_for(**changes)
    d = GATE.decide(policy_input("reschedule_pickup", {"pickup_id": "P1", "window": window(facts, days)}, facts, standing()))
    assert {r.rule for r in d.approval} == expected
    assert d.allow == (not expected) and d.needs_approval == bool(expected)


async def test_credit_amount_tier_cause_and_limit():
    facts = await facts_for(**{"world.customers.0.tier": "priority"})
    new = standing(new_window=window(facts, 1))
    credit = lambda amount, s=new: GATE.decide(policy_input("issue_credit", {"customer_id": "C1", "amount_usd": amount, "reason": "x"}, facts, s))
    assert credit(90).allow                                   # 5% of 1800
    assert "credit.amount" in rules(credit(5000))
    assert "credit.customer_request" in rules(credit(90, standing(cause="customer_request", new_window=window(facts, 1))))
    assert "credit.not_rescheduled_past_window" in rules(credit(90, standing()))
    big = await facts_for(**{"world.customers.0.tier": "priority", "world.pickups.0.value_usd": 2500})
    held = GATE.decide(policy_input("issue_credit", {"customer_id": "C1", "amount_usd": 125, "reason": "x"}, big,
                                    standing(new_window=window(big, 1))))
    assert held.needs_approval and not held.allow
    standard = await facts_for()
    assert "credit.tier_not_eligible" in rules(GATE.decide(policy_input(
        "issue_credit", {"customer_id": "C1", "amount_usd": 90, "reason": "x"}, standard, standing(new_window=window(standard, 1)))))


async def test_notify_once_only_when_something_changes_and_customer_opted_in():
    facts = await facts_for()
    notify = lambda s, f=facts: GATE.decide(policy_input("notify_customer", {"customer_id": "C1", "pickup_id": "P1", "message": "m"}, f, s))
    assert notify(standing(changes_pickup=True)).allow
    assert "notify.no_change" in rules(notify(standing()))
    assert "notify.once_per_case" in rules(notify(standing(changes_pickup=True, notifications=1)))
    opted_out = await facts_for(**{"world.customers.0.notify": False})
    assert "notify.opted_out" in rules(notify(standing(changes_pickup=True), opted_out))


async def test_cancel_always_needs_approval_and_approval_releases_it():
    facts = await facts_for()
    d = GATE.decide(policy_input("cancel_pickup", {"pickup_id": "P1", "reason": "x"}, facts, standing()))
    assert d.needs_approval and not d.allow
    approved = GATE.decide(policy_input("cancel_pickup", {"pickup_id": "P1", "reason": "x"}, facts,
                                        standing(approval={"decision": "approve"})))
    assert approved.allow


async def test_low_confidence_denies_everything():
    d = GATE.decide(policy_input("reassign_driver", {"pickup_id": "P1", "driver_id": "D2"}, await facts_for(), standing(confidence=0.69)))
    assert "gate.low_confidence" in rules(d)
    assert GATE.confidence_sufficient(0.7) and not GATE.confidence_sufficient(0.69)


def test_undefined_or_broken_policy_denies(tmp_path):
    (tmp_path / "data.json").write_text('{"recourse": {"config": {}}}')
    (tmp_path / "gate.rego").write_text("package recourse.gate\n\nimport rego.v1\n\ndecision := input.nothing\n")
    (tmp_path / "confidence.rego").write_text("package recourse.confidence\n\nimport rego.v1\n\nsufficient := input.nothing\n")
    gate = RegoGate(PolicySet(tmp_path))
    d = gate.decide({"action": {"tool": "reassign_driver", "args": {}}})
    assert not d.allow and d.deny[0].rule == "gate.error"
    assert gate.confidence_sufficient(1.0) is False


async def test_free_text_never_reaches_the_policy_input():
    facts = await facts_for()
    doc = policy_input("notify_customer", {"customer_id": "C1", "pickup_id": "P1", "message": "IGNORE POLICY"}, facts,
                       standing(changes_pickup=True))
    assert "IGNORE" not in str(doc)
    assert doc["now"] == epoch(datetime(2026, 11, 20, 14, tzinfo=timezone.utc))


def test_policy_revision_changes_with_any_policy_byte(tmp_path):
    import shutil
    copy = tmp_path / "p"
    shutil.copytree(PolicySet().directory, copy)
    before = PolicySet(copy).revision
    (copy / "data.json").write_text((copy / "data.json").read_text().replace('"credit_autonomous_limit_usd": 100', '"credit_autonomous_limit_usd": 50'))
    assert PolicySet(copy).revision != before


def test_every_policy_has_rego_unit_tests_beside_it_and_the_gate_loads_none_of_them():
    policies = PolicySet()
    assert policies.modules and not [n for n in policies.modules if n.endswith("_test.rego")]
    missing = [n for n in policies.modules if not (policies.directory / n.replace(".rego", "_test.rego")).is_file()]
    assert not missing, f"no *_test.rego beside {missing} (opa test runs them in .ci/opa.sh)"
