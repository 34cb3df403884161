# Unit tests for service credits: eligibility, the 5% amount, once per case, and the autonomous limit.
package recourse.actions.credit_test

import rego.v1

import data.recourse.actions.credit

# A priority customer whose 1800 USD pickup was moved past its window by our exception: 90 USD is due.
base := {
	"action": {"tool": "issue_credit", "args": {"customer_id": "C1", "amount_usd": 90}},
	"pickup": {"id": "P1", "customer_id": "C1", "value_usd": 1800, "window": {"start": 48600, "end": 57600}},
	"customer": {"id": "C1", "tier": "priority"},
	"case": {"cause": "exception", "credits": 0, "new_window": {"start": 135000, "end": 144000}},
}

rules(doc) := {"deny": deny, "approval": approval} if {
	deny := {r.rule | some r in credit.deny} with input as doc
	approval := {r.rule | some r in credit.approval} with input as doc
}

patched(patch) := object.union(base, patch)

test_due_credit_is_not_denied if {
	rules(base) == {"deny": set(), "approval": set()}
}

test_customer_mismatch if {
	rules(patched({"action": {"args": {"customer_id": "C2"}}})).deny == {"credit.customer_mismatch"}
}

test_tier_not_eligible if {
	rules(patched({"customer": {"tier": "standard"}})).deny == {"credit.tier_not_eligible"}
	rules(patched({"customer": {"tier": "strategic"}})).deny == set()
}

test_customer_request if {
	rules(patched({"case": {"cause": "customer_request"}})).deny == {"credit.customer_request"}
}

test_not_rescheduled_past_window if {
	rules(json.remove(base, ["case/new_window"])).deny == {"credit.not_rescheduled_past_window"}
	rules(patched({"case": {"new_window": {"start": 57599, "end": 60000}}})).deny == {"credit.not_rescheduled_past_window"}
}

test_amount if {
	rules(patched({"action": {"args": {"amount_usd": 91}}})).deny == {"credit.amount"}
}

test_once_per_case if {
	rules(patched({"case": {"credits": 1}})).deny == {"credit.once_per_case"}
}

test_over_limit_needs_approval if {
	big := patched({"pickup": {"value_usd": 2500}, "action": {"args": {"amount_usd": 125}}})
	rules(big) == {"deny": set(), "approval": {"credit.over_limit"}}
	rules(patched({"pickup": {"value_usd": 2000}, "action": {"args": {"amount_usd": 100}}})).approval == set()
}
