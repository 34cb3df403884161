# The gate: one decision per proposed action, combining the action's own rules with the confidence threshold.
package recourse.gate

import rego.v1

import data.recourse.actions
import data.recourse.autonomy
import data.recourse.confidence

known_tools := {"reassign_driver", "reschedule_pickup", "notify_customer", "issue_credit", "cancel_pickup"}

deny contains {"rule": "gate.unknown_tool", "msg": sprintf("unknown action tool %v", [input.action.tool])} if {
	not input.action.tool in known_tools
}

deny contains {"rule": "gate.low_confidence", "msg": msg} if {
	not confidence.sufficient
	msg := sprintf("confidence %.2f is below the %v threshold", [input.case.confidence, data.recourse.config.min_confidence])
}

deny contains reason if {
	input.action.tool == "reassign_driver"
	some reason in actions.reassign.deny
}

deny contains reason if {
	input.action.tool == "reschedule_pickup"
	some reason in actions.reschedule.deny
}

approval contains reason if {
	input.action.tool == "reschedule_pickup"
	some reason in actions.reschedule.approval
}

deny contains reason if {
	input.action.tool == "notify_customer"
	some reason in actions.notify.deny
}

deny contains reason if {
	input.action.tool == "issue_credit"
	some reason in actions.credit.deny
}

approval contains reason if {
	input.action.tool == "issue_credit"
	some reason in actions.credit.approval
}

deny contains reason if {
	input.action.tool == "cancel_pickup"
	some reason in actions.cancel.deny
}

approval contains reason if {
	input.action.tool == "cancel_pickup"
	some reason in actions.cancel.approval
}

approval contains reason if {
	some reason in autonomy.approval
}

approved if input.case.approval.decision == "approve"

default allow := false

allow if {
	count(deny) == 0
	count(approval) == 0
}

allow if {
	count(deny) == 0
	approved
}

default needs_approval := false

needs_approval if {
	count(deny) == 0
	count(approval) > 0
	not approved
}

# `allow` is what the policy permits; `paused` (a pause switch) and `level` "shadow" tell the graph to
# hold or only record an allowed action.
decision := {
	"allow": allow,
	"needs_approval": needs_approval,
	"deny": deny,
	"approval": approval,
	"level": autonomy.level,
	"paused": autonomy.paused,
}
