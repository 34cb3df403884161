# Unit tests for the confidence threshold (data.recourse.config.min_confidence = 0.7).
package recourse.confidence_test

import rego.v1

import data.recourse.confidence

test_at_threshold_is_sufficient if {
	confidence.sufficient with input as {"case": {"confidence": 0.7}}
}

test_below_threshold_is_not if {
	not confidence.sufficient with input as {"case": {"confidence": 0.69}}
}

test_missing_confidence_is_not if {
	confidence.sufficient == false with input as {}
}
