# Unit tests for cancelling: always held for a human, and denied outright once the pickup is closed.
package recourse.actions.cancel_test

import rego.v1

import data.recourse.actions.cancel

test_open_pickup_is_held_for_approval if {
	deny := {r.rule | some r in cancel.deny} with input as {"pickup": {"id": "P1", "status": "missed"}}
	approval := {r.rule | some r in cancel.approval} with input as {"pickup": {"id": "P1", "status": "missed"}}
	deny == set()
	approval == {"cancel.requires_approval"}
}

test_closed_pickup_is_denied if {
	deny := {r.rule | some r in cancel.deny} with input as {"pickup": {"id": "P1", "status": "picked_up"}}
	deny == {"cancel.pickup_closed"}
}
