package recourse.autonomy_test

import rego.v1

import data.recourse.autonomy

test_configured_level_per_intent if {
	autonomy.level == "autonomous" with input as {"action": {"tool": "reassign_driver"}, "controls": {"mode": "live"}}
	autonomy.level == "supervised" with input as {"action": {"tool": "cancel_pickup"}, "controls": {"mode": "live"}}
}

test_unknown_intent_is_supervised if {
	autonomy.level == "supervised" with input as {"action": {"tool": "teleport"}}
}

test_shadow_mode_overrides_every_intent if {
	autonomy.level == "shadow" with input as {"action": {"tool": "reassign_driver"}, "controls": {"mode": "shadow"}}
}

test_supervised_intent_needs_approval if {
	a := autonomy.approval with input as {"action": {"tool": "cancel_pickup"}}
	{r.rule | some r in a} == {"autonomy.supervised"}
	count(autonomy.approval) == 0 with input as {"action": {"tool": "notify_customer"}}
}

test_pause_all_or_one_intent if {
	autonomy.paused with input as {"action": {"tool": "notify_customer"}, "controls": {"paused": true}}
	autonomy.paused with input as {"action": {"tool": "issue_credit"}, "controls": {"paused_intents": ["issue_credit"]}}
	not autonomy.paused with input as {"action": {"tool": "notify_customer"}, "controls": {"paused_intents": ["issue_credit"]}}
	not autonomy.paused with input as {"action": {"tool": "notify_customer"}, "controls": {"paused": false}}
}
