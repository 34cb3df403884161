"""Scenario evaluation: the canonical format, a loader, a runner that drives the real graph, grading, reports."""
