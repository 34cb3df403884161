# Who may take over a pickup: the operator's runbook for replacement drivers.
package recourse.actions.reassign

import rego.v1

cfg := data.recourse.config

closed_statuses := {"picked_up", "cancelled"}

deny contains {"rule": "reassign.pickup_closed", "msg": sprintf("pickup %s is %s", [input.pickup.id, input.pickup.status])} if {
	input.pickup.status in closed_statuses
}

deny contains {"rule": "reassign.same_driver", "msg": sprintf("driver %s already holds pickup %s", [input.driver.id, input.pickup.id])} if {
	input.driver.id == input.pickup.driver_id
}

deny contains {"rule": "reassign.driver_not_on_duty", "msg": sprintf("driver %s is %s", [input.driver.id, input.driver.status])} if {
	input.driver.status != "on_duty"
}

deny contains {"rule": "reassign.skill_missing", "msg": sprintf("driver %s lacks the %s skill", [input.driver.id, skill])} if {
	some skill in input.pickup.requirements
	not skill in input.driver.skills
}

deny contains {"rule": "reassign.no_vehicle", "msg": sprintf("driver %s has no vehicle", [input.driver.id])} if {
	not input.vehicle.id
}

deny contains {"rule": "reassign.vehicle_not_ok", "msg": sprintf("vehicle %s is %s", [input.vehicle.id, input.vehicle.status])} if {
	input.vehicle.status != "ok"
}

# Numbers in messages: %.1f or %.2f for measured values (floats), %d for rounded ones, %v only for integers and
# config constants. OPA and regopy print %v of an arbitrary float differently, and the gate's text must not depend
# on the engine (tests/guardrails/test_opa.py compares them).
deny contains {"rule": "reassign.capacity", "msg": msg} if {
	input.vehicle.capacity_kg < input.pickup.weight_kg
	msg := sprintf("vehicle %s takes %.1f kg, pickup weighs %.1f kg", [input.vehicle.id, input.vehicle.capacity_kg, input.pickup.weight_kg])
}

deny contains {"rule": "reassign.feature_missing", "msg": sprintf("vehicle %s lacks %s", [input.vehicle.id, feature])} if {
	some feature in input.pickup.requirements
	not feature in input.vehicle.features
}

deny contains {"rule": "reassign.shift_margin", "msg": msg} if {
	margin_s := cfg.shift_end_margin_minutes * 60
	input.driver.shift_end < input.pickup.window.end + margin_s
	msg := sprintf("driver %s's shift ends %d min after the window, %v min needed", [
		input.driver.id,
		round((input.driver.shift_end - input.pickup.window.end) / 60),
		cfg.shift_end_margin_minutes,
	])
}

travel_s := (input.driver.distance_km / cfg.travel_speed_kmh) * 3600

deny contains {"rule": "reassign.cannot_reach", "msg": msg} if {
	input.now + travel_s > input.pickup.window.end
	msg := sprintf("driver %s is %.1f km away (%d min at %v km/h), window closes in %d min", [
		input.driver.id,
		input.driver.distance_km,
		round(travel_s / 60),
		cfg.travel_speed_kmh,
		round((input.pickup.window.end - input.now) / 60),
	])
}
