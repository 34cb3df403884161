# When a pickup may be moved to a new window, and when a human must approve the move.
package recourse.actions.reschedule

import rego.v1

cfg := data.recourse.config

new_window := input.action.args.window

closed_statuses := {"picked_up", "cancelled"}

deny contains {"rule": "reschedule.pickup_closed", "msg": sprintf("pickup %s is %s", [input.pickup.id, input.pickup.status])} if {
	input.pickup.status in closed_statuses
}

deny contains {"rule": "reschedule.window_invalid", "msg": "the new window does not end after it starts"} if {
	new_window.end <= new_window.start
}

deny contains {"rule": "reschedule.window_in_past", "msg": "the new window starts before now"} if {
	new_window.start < input.now
}

approval contains {"rule": "reschedule.beyond_horizon", "msg": msg} if {
	new_window.start > input.now + (cfg.reschedule_horizon_hours * 3600)
	msg := sprintf("the new window starts more than %v h from now", [cfg.reschedule_horizon_hours])
}

approval contains {"rule": "reschedule.strategic_customer", "msg": sprintf("customer %s is strategic", [input.customer.id])} if {
	input.customer.tier == "strategic"
}

approval contains {"rule": "reschedule.hazmat", "msg": sprintf("pickup %s is hazmat", [input.pickup.id])} if {
	"hazmat" in input.pickup.requirements
}
