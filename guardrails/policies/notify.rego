# When Recourse may message a customer about their pickup.
package recourse.actions.notify

import rego.v1

cfg := data.recourse.config

deny contains {"rule": "notify.opted_out", "msg": sprintf("customer %s does not take notifications", [input.customer.id])} if {
	input.customer.notify != true
}

deny contains {"rule": "notify.customer_mismatch", "msg": msg} if {
	input.action.args.customer_id != input.pickup.customer_id
	msg := sprintf("pickup %s belongs to customer %s, not %s", [input.pickup.id, input.pickup.customer_id, input.action.args.customer_id])
}

deny contains {"rule": "notify.once_per_case", "msg": "the customer was already notified in this case"} if {
	input.case.notifications >= cfg.notifications_per_case
}

deny contains {"rule": "notify.no_change", "msg": "nothing about the pickup's driver or window changes"} if {
	not input.case.changes_pickup
}
