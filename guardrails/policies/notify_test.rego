# Unit tests for customer notifications: once, only when something changes, only to the pickup's own opted-in customer.
package recourse.actions.notify_test

import rego.v1

import data.recourse.actions.notify

base := {
	"action": {"tool": "notify_customer", "args": {"customer_id": "C1", "pickup_id": "P1"}},
	"pickup": {"id": "P1", "customer_id": "C1"},
	"customer": {"id": "C1", "notify": true},
	"case": {"notifications": 0, "changes_pickup": true},
}

deny_rules(patch) := rules if {
	rules := {r.rule | some r in notify.deny} with input as object.union(base, patch)
}

test_change_to_opted_in_customer_is_not_denied if {
	deny_rules({}) == set()
}

test_opted_out if {
	deny_rules({"customer": {"notify": false}}) == {"notify.opted_out"}
}

test_customer_mismatch if {
	deny_rules({"action": {"args": {"customer_id": "C2"}}}) == {"notify.customer_mismatch"}
}

test_once_per_case if {
	deny_rules({"case": {"notifications": 1}}) == {"notify.once_per_case"}
}

test_no_change if {
	deny_rules({"case": {"changes_pickup": false}}) == {"notify.no_change"}
}
