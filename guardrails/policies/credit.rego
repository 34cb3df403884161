# Service credits: who gets one, how much, and above what amount a human approves it.
package recourse.actions.credit

import rego.v1

cfg := data.recourse.config

amount := input.action.args.amount_usd

expected := round(input.pickup.value_usd * cfg.credit_rate)

deny contains {"rule": "credit.customer_mismatch", "msg": msg} if {
	input.action.args.customer_id != input.pickup.customer_id
	msg := sprintf("pickup %s belongs to customer %s, not %s", [input.pickup.id, input.pickup.customer_id, input.action.args.customer_id])
}

deny contains {"rule": "credit.tier_not_eligible", "msg": sprintf("customer %s is %s tier", [input.customer.id, input.customer.tier])} if {
	not input.customer.tier in {tier | some tier in cfg.credit_tiers}
}

deny contains {"rule": "credit.customer_request", "msg": "the change was the customer's own request"} if {
	input.case.cause == "customer_request"
}

deny contains {"rule": "credit.not_rescheduled_past_window", "msg": "the pickup is not moved past its original window"} if {
	not rescheduled_past_window
}

rescheduled_past_window if input.case.new_window.start >= input.pickup.window.end

deny contains {"rule": "credit.amount", "msg": sprintf("credit must be %d USD (%v of %.2f USD), not %.2f USD", [expected, cfg.credit_rate, input.pickup.value_usd, amount])} if {
	amount != expected
}

deny contains {"rule": "credit.once_per_case", "msg": "a credit was already issued in this case"} if {
	input.case.credits >= cfg.credits_per_case
}

approval contains {"rule": "credit.over_limit", "msg": msg} if {
	amount > cfg.credit_autonomous_limit_usd
	msg := sprintf("%.2f USD is above the %v USD autonomous limit", [amount, cfg.credit_autonomous_limit_usd])
}
