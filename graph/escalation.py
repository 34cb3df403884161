"""The escalation packet: everything a dispatcher needs to act without redoing discovery."""
from __future__ import annotations

from typing import Any

from tools.read import CaseFacts

NEXT_STEP = {
    "low_confidence": "Call the reporter to establish what actually happened, then resubmit with a clear cause.",
    "policy_unavailable": "The policy engine could not be reached; nothing was executed. Retry once it is back.",
    "policy_denied": "Review the denied actions and their reasons; pick a remedy by hand or adjust the plan.",
    "retries_exhausted": "The operations system kept failing; check it is up, then redo the failed action by hand.",
    "execution_failed": "The operations system refused the action; check the record and redo it by hand.",
    "verification_failed": "The record does not show what was done; inspect the pickup and correct it by hand.",
    "no_candidate": "No autonomous remedy exists; arrange the pickup by hand (correct the address, find capacity).",
    "needs_approval": "Approve or reject the held actions; approved actions are gated again and executed.",
    "approval_expired": "Nobody answered the approval request in time; decide on the held actions by hand.",
    "approval_rejected": "A dispatcher rejected the held actions; arrange the pickup by hand.",
}


def build_packet(reason: str, state: dict[str, Any], facts: CaseFacts | None, held: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    classification = state.get("classification") or {}
    plan = state.get("plan") or {}
    attempts = [{"tool": r["tool"], "args": r["args"], "status": r["status"], "attempts": r["attempts"],
                 "error": r.get("error")} for r in state.get("results", [])]
    denied = [d for d in state.get("decisions", []) if d["disposition"] in ("denied", "blocked")]
    return {
        "reason": reason,
        "recommended_action": NEXT_STEP.get(reason, "Review the case."),
        "evidence": {
            "event": {k: v for k, v in state["event"].items() if k != "note"},
            "note": state["event"].get("note", ""),
            "classification": classification,
            "plan_rationale": plan.get("rationale"),
            "rejected_alternatives": plan.get("rejected", []),
            "denied_actions": [{"tool": d["tool"], "args": d["args"], "reasons": d["decision"]["deny"]} for d in denied],
        },
        "held_actions": [{"tool": d["tool"], "args": d["args"], "idempotency_key": d["key"],
                          "reasons": d["decision"]["approval"] or [{"rule": "held.dependency", "msg": d.get("why", "")}]}
                         for d in held or []],
        "attempts": attempts,
        "snapshot": facts.model_dump(mode="json", exclude={"candidates"}) if facts else None,
    }
