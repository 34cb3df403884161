# Unit tests for the replacement-driver runbook: each deny rule fires on its own, and a qualified driver passes.
package recourse.actions.reassign_test

import rego.v1

import data.recourse.actions.reassign

# 14:00; window 13:30-16:00; driver D2 2 km away (3 min at 40 km/h), shift ends 22:00, with a reefer van.
base := {
	"now": 50400,
	"pickup": {
		"id": "P1", "status": "missed", "driver_id": "D1", "requirements": ["reefer"],
		"weight_kg": 400, "window": {"start": 48600, "end": 57600},
	},
	"driver": {"id": "D2", "status": "on_duty", "skills": ["reefer"], "shift_end": 79200, "distance_km": 2},
	"vehicle": {"id": "V2", "status": "ok", "capacity_kg": 1000, "features": ["reefer"]},
}

deny_rules(patch) := rules if {
	rules := {r.rule | some r in reassign.deny} with input as object.union(base, patch)
}

test_qualified_driver_is_not_denied if {
	deny_rules({}) == set()
}

test_pickup_closed if {
	deny_rules({"pickup": {"status": "picked_up"}}) == {"reassign.pickup_closed"}
	deny_rules({"pickup": {"status": "cancelled"}}) == {"reassign.pickup_closed"}
}

test_same_driver if {
	deny_rules({"driver": {"id": "D1"}}) == {"reassign.same_driver"}
}

test_driver_not_on_duty if {
	deny_rules({"driver": {"status": "on_break"}}) == {"reassign.driver_not_on_duty"}
}

test_skill_missing if {
	deny_rules({"driver": {"skills": []}}) == {"reassign.skill_missing"}
}

test_no_vehicle if {
	rules := {r.rule | some r in reassign.deny} with input as json.remove(base, ["vehicle"])
	rules == {"reassign.no_vehicle"}
}

test_vehicle_not_ok if {
	deny_rules({"vehicle": {"status": "breakdown"}}) == {"reassign.vehicle_not_ok"}
}

test_capacity if {
	deny_rules({"vehicle": {"capacity_kg": 399.5}}) == {"reassign.capacity"}
	deny_rules({"vehicle": {"capacity_kg": 400}}) == set()
}

test_feature_missing if {
	deny_rules({"vehicle": {"features": ["liftgate"]}}) == {"reassign.feature_missing"}
}

test_shift_margin if {
	deny_rules({"driver": {"shift_end": 61140}}) == {"reassign.shift_margin"}
	deny_rules({"driver": {"shift_end": 61200}}) == set() # exactly 60 min after the window qualifies
}

test_cannot_reach if {
	deny_rules({"driver": {"distance_km": 200}}) == {"reassign.cannot_reach"}
	deny_rules({"now": 57500}) == {"reassign.cannot_reach"}
}

test_reasons_name_the_values if {
	msgs := {r.msg | some r in reassign.deny} with input as object.union(base, {"driver": {"distance_km": 200.04}})
	msgs == {"driver D2 is 200.0 km away (300 min at 40 km/h), window closes in 120 min"}
}
