# How much autonomy an intent has (shadow | supervised | autonomous), and whether it is paused.
package recourse.autonomy

import rego.v1

# shadow: plan and gate, record what would have been done, execute nothing (RECOURSE_MODE=shadow);
# supervised: every action of the intent is held for approval; autonomous: the rules and threshold decide.
level := "shadow" if {
	input.controls.mode == "shadow"
} else := configured if {
	configured := data.recourse.config.autonomy[input.action.tool]
} else := "supervised"

default paused := false

paused if input.controls.paused == true

paused if input.action.tool in input.controls.paused_intents

approval contains {"rule": "autonomy.supervised", "msg": sprintf("%s is supervised: every one is approved by a person", [input.action.tool])} if {
	level == "supervised"
}
