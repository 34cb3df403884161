# Cancelling a pickup is never autonomous.
package recourse.actions.cancel

import rego.v1

deny contains {"rule": "cancel.pickup_closed", "msg": sprintf("pickup %s is %s", [input.pickup.id, input.pickup.status])} if {
	input.pickup.status in {"picked_up", "cancelled"}
}

approval contains {"rule": "cancel.requires_approval", "msg": "cancelling a pickup always needs a human"}
