"""Deterministic safety: the Rego policy gate, its thresholds, and input sanitising."""
