"""The case graph: classify → plan → gate → execute → verify, with escalation and approval."""
