"""Prints one case as a timeline a dispatcher can read: classification, plan, gate, actions, verification."""
from __future__ import annotations

from typing import Any

from rich.console import Console


def print_timeline(console: Console, final: dict[str, Any], audit: list[dict[str, Any]]) -> None:
    for entry in audit:
        kind, p = entry["kind"], entry["payload"]
        prefix = f"[dim]#{entry['seq']:<4}[/dim] [bold]{kind:<18}[/bold]"
        if kind == "case.submitted":
            line = f"{p['type']} for pickup {p['pickup_id']} from {p['source']}"
        elif kind == "classified":
            line = f"{p['category']} (severity {p['severity']}, confidence {p['confidence']:.2f}) - {p['rationale']}"
        elif kind == "planned":
            steps = ", ".join(f"{a['tool']}({_args(a['args'])})" for a in p["actions"]) or "no action"
            line = f"rev {p['revision']}: {steps} - {p['rationale']}"
            for alt in p.get("rejected", []):
                line += f"\n{'':25}rejected {alt['option']}: {alt['rejected_because']}"
        elif kind == "gate.decision":
            line = f"{p['tool']}: {p['disposition']} - {p['why']}"
        elif kind == "action":
            tries = ", ".join(a["error"] or "ok" for a in p["attempts"])
            line = f"{p['tool']}: {p['status']} after {len(p['attempts'])} attempt(s) [{tries}]"
        elif kind == "verified":
            line = "; ".join(f"{c['tool']}: {'holds' if c['holds'] else 'FAILS'} ({c['observed']})" for c in p["checks"]) or "nothing to check"
        else:
            line = ", ".join(f"{k}={v}" for k, v in p.items() if not isinstance(v, (dict, list)))
        console.print(f"{prefix} {line}", highlight=False)
    outcome = final.get("outcome")
    colour = {"resolved": "green", "escalated": "red", "awaiting_approval": "yellow"}.get(outcome, "white")
    console.print(f"[bold {colour}]outcome: {outcome}[/bold {colour}]")
    packet = final.get("escalation")
    if packet and outcome != "resolved":
        console.print(f"reason: {packet['reason']}; next: {packet['recommended_action']}", highlight=False)


def _args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items() if k != "message")
