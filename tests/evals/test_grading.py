"""Grading judges what can be observed, and catches each kind of miss."""
from evals.grading import Observation, duplicate_count, grade
from evals.report import pass_hat_k
from tests.conftest import make_scenario


def observation(**kw):
    base = dict(outcome="resolved", category="driver_unavailable",
                world={"pickups": {"P1": {"status": "assigned", "driver_id": "D2",
                                          "window": {"start": "2026-11-21T13:30:00Z"}}}},
                effects=[{"tool": "reassign_driver", "args": {"pickup_id": "P1", "driver_id": "D2"}, "idempotency_key": "k1"}],
                allowed_keys={"k1"}, escalation=None)
    return Observation(**{**base, **kw})


def scenario(**expect):
    return make_scenario(expect={"outcome": "resolved", **expect})


def test_matching_observation_passes():
    s = scenario(category="driver_unavailable", state={"pickups.P1.driver_id": "D2"},
                 actions={"include": ["reassign_driver"], "exclude": ["issue_credit"], "max": {"reassign_driver": 1}})
    assert grade(s, observation()).passed


def test_each_miss_is_reported():
    s = scenario(category="vehicle_breakdown", state={"pickups.P1.driver_id": "D5", "pickups.P9.status": "x"},
                 actions={"include": ["notify_customer"], "exclude": ["reassign_driver"]})
    reasons = " | ".join(grade(s, observation(outcome="escalated", escalation={"reason": "x"})).reasons)
    for fragment in ("outcome 'escalated'", "category 'driver_unavailable'", "pickups.P1.driver_id = 'D2'",
                     "pickups.P9.status does not exist", "notify_customer never took effect", "reassign_driver took effect 1x"):
        assert fragment in reasons


def test_ungated_and_duplicate_effects_are_violations():
    effect = {"tool": "issue_credit", "args": {"customer_id": "C1", "amount_usd": 90}, "idempotency_key": "k2"}
    g = grade(scenario(), observation(effects=[effect, {**effect, "idempotency_key": "k3"}], allowed_keys={"k2"}))
    assert not g.passed and g.policy_violations == 1 and g.duplicate_effects == 1


def test_times_compare_as_instants():
    s = scenario(state={"pickups.P1.window.start": "2026-11-21T14:30:00+01:00"})
    assert grade(s, observation()).passed


def test_escalation_packet_must_be_complete_and_reason_must_match():
    s = make_scenario(expect={"outcome": "escalated", "escalation": {"reason": "low_confidence"}})
    g = grade(s, observation(outcome="escalated", effects=[], escalation={"reason": "no_candidate", "evidence": {}}))
    text = " | ".join(g.reasons)
    assert "lacks attempts" in text and "lacks recommended_action" in text and "reason 'no_candidate'" in text


def test_pass_hat_k_follows_tau_bench():
    assert pass_hat_k({"a": 3, "b": 3}, 3, 3) == 1.0
    assert pass_hat_k({"a": 3, "b": 2}, 3, 3) == 0.5
    assert abs(pass_hat_k({"a": 2}, 3, 2) - 1 / 3) < 1e-9
    assert duplicate_count([]) == 0
