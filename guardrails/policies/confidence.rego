# Whether a decision is confident enough to act on without a human.
package recourse.confidence

import rego.v1

default sufficient := false

sufficient if input.case.confidence >= data.recourse.config.min_confidence
