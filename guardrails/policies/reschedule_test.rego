# Unit tests for rescheduling: the deny rules, the three reasons a human must approve, and a plain next-day move.
package recourse.actions.reschedule_test

import rego.v1

import data.recourse.actions.reschedule

# 14:00 on day 0; the new window is the same slot tomorrow (24 h ahead, inside the 48 h horizon).
base := {
	"now": 50400,
	"action": {"tool": "reschedule_pickup", "args": {"pickup_id": "P1", "window": {"start": 135000, "end": 144000}}},
	"pickup": {"id": "P1", "status": "missed", "requirements": []},
	"customer": {"id": "C1", "tier": "standard"},
}

rules(patch) := {"deny": deny, "approval": approval} if {
	deny := {r.rule | some r in reschedule.deny} with input as object.union(base, patch)
	approval := {r.rule | some r in reschedule.approval} with input as object.union(base, patch)
}

window(start, end) := {"action": {"args": {"window": {"start": start, "end": end}}}}

test_next_day_move_needs_nobody if {
	rules({}) == {"deny": set(), "approval": set()}
}

test_pickup_closed if {
	rules({"pickup": {"status": "picked_up"}}).deny == {"reschedule.pickup_closed"}
}

test_window_invalid if {
	rules(window(135000, 135000)).deny == {"reschedule.window_invalid"}
}

test_window_in_past if {
	rules(window(50399, 60000)).deny == {"reschedule.window_in_past"}
	rules(window(50400, 60000)).deny == set()
}

test_beyond_horizon_needs_approval if {
	rules(window(223201, 230000)).approval == {"reschedule.beyond_horizon"}
	rules(window(223200, 230000)).approval == set() # exactly 48 h ahead is inside the horizon
}

test_strategic_customer_needs_approval if {
	rules({"customer": {"tier": "strategic"}}).approval == {"reschedule.strategic_customer"}
}

test_hazmat_needs_approval if {
	rules({"pickup": {"requirements": ["hazmat"]}}).approval == {"reschedule.hazmat"}
}
