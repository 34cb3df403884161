# Unit tests for the gate's combination logic; each action's own rules are replaced with fixed reasons.
package recourse.gate_test

import rego.v1

import data.recourse.gate

reason(rule) := {"rule": rule, "msg": rule}

action(tool) := {"action": {"tool": tool, "args": {}}, "case": {"confidence": 0.9}}

approved(tool) := object.union(action(tool), {"case": {"approval": {"decision": "approve"}}})

rules(reasons) := {r.rule | some r in reasons}

test_no_reasons_allows if {
	d := gate.decision with input as action("notify_customer")
		with data.recourse.actions.notify.deny as set()
	d == {"allow": true, "needs_approval": false, "deny": set(), "approval": set(), "level": "autonomous", "paused": false}
}

test_unknown_tool_denies if {
	d := gate.decision with input as action("delete_database")
	rules(d.deny) == {"gate.unknown_tool"}
	not d.allow
}

test_low_confidence_denies if {
	d := gate.decision with input as object.union(action("notify_customer"), {"case": {"confidence": 0.5}})
		with data.recourse.actions.notify.deny as set()
	rules(d.deny) == {"gate.low_confidence"}
	d.deny == {{"rule": "gate.low_confidence", "msg": "confidence 0.50 is below the 0.7 threshold"}}
}

test_each_tool_takes_only_its_own_denies if {
	every tool, pkg in {
		"reassign_driver": "reassign", "reschedule_pickup": "reschedule", "notify_customer": "notify",
		"issue_credit": "credit", "cancel_pickup": "cancel",
	} {
		d := gate.decision with input as action(tool)
			with data.recourse.actions.reassign.deny as {reason("reassign.x")}
			with data.recourse.actions.reschedule.deny as {reason("reschedule.x")}
			with data.recourse.actions.notify.deny as {reason("notify.x")}
			with data.recourse.actions.credit.deny as {reason("credit.x")}
			with data.recourse.actions.cancel.deny as {reason("cancel.x")}
		rules(d.deny) == {sprintf("%s.x", [pkg])}
		not d.allow
		not d.needs_approval
	}
}

test_each_tool_takes_only_its_own_approvals if {
	every tool, pkg in {"reschedule_pickup": "reschedule", "issue_credit": "credit", "cancel_pickup": "cancel"} {
		d := gate.decision with input as action(tool)
			with data.recourse.actions.reschedule.deny as set()
			with data.recourse.actions.credit.deny as set()
			with data.recourse.actions.cancel.deny as set()
			with data.recourse.actions.reschedule.approval as {reason("reschedule.y")}
			with data.recourse.actions.credit.approval as {reason("credit.y")}
			with data.recourse.actions.cancel.approval as {reason("cancel.y")}
			with data.recourse.config.autonomy.cancel_pickup as "autonomous"
		rules(d.approval) == {sprintf("%s.y", [pkg])}
		d.deny == set()
		not d.allow
		d.needs_approval
	}
}

test_approval_releases_a_held_action if {
	d := gate.decision with input as approved("cancel_pickup")
		with data.recourse.actions.cancel.deny as set()
	d.allow
	not d.needs_approval
	rules(d.approval) == {"cancel.requires_approval", "autonomy.supervised"}
}

test_deny_wins_over_approval_and_an_approval_answer if {
	d := gate.decision with input as approved("cancel_pickup")
		with data.recourse.actions.cancel.deny as {reason("cancel.pickup_closed")}
	not d.allow
	not d.needs_approval
}

test_rejected_approval_does_not_release if {
	d := gate.decision with input as object.union(action("cancel_pickup"), {"case": {"approval": {"decision": "reject"}}})
		with data.recourse.actions.cancel.deny as set()
	not d.allow
	d.needs_approval
}

test_supervised_intent_is_held_until_approved if {
	d := gate.decision with input as action("notify_customer")
		with data.recourse.actions.notify.deny as set()
		with data.recourse.config.autonomy.notify_customer as "supervised"
	rules(d.approval) == {"autonomy.supervised"}
	d.needs_approval
	not d.allow
	a := gate.decision with input as approved("notify_customer")
		with data.recourse.actions.notify.deny as set()
		with data.recourse.config.autonomy.notify_customer as "supervised"
	a.allow
}

test_decision_reports_level_and_pause if {
	d := gate.decision with input as object.union(action("notify_customer"), {"controls": {"mode": "shadow", "paused": true}})
		with data.recourse.actions.notify.deny as set()
	d.level == "shadow"
	d.paused
}
