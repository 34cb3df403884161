"""Turns a proposed action and what the system of record says into the gate's input document.

Only structured facts go in: free text (driver notes, e-mails) never reaches the policy, so it
cannot change what the policy decides. Times are epoch seconds (Rego compares numbers).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tools.read import CaseFacts


def epoch(value: datetime | str) -> int:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(value.timestamp())


def _window(window: Any) -> dict[str, int]:
    if isinstance(window, BaseModel):
        window = window.model_dump()
    return {"start": epoch(window["start"]), "end": epoch(window["end"])}


class CaseStanding(BaseModel):
    """What the case itself contributes: its confidence and what it has already done or plans."""

    confidence: float
    category: str
    cause: str  # "exception" | "customer_request"
    notifications: int = 0
    credits: int = 0
    changes_pickup: bool = False
    new_window: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None


def policy_input(tool: str, args: dict[str, Any], facts: CaseFacts, standing: CaseStanding,
                 controls: dict[str, Any] | None = None) -> dict[str, Any]:
    """`controls`: the operating mode and pause switches ({"mode", "paused", "paused_intents"})."""
    pickup = facts.pickup
    document: dict[str, Any] = {
        "action": {"tool": tool, "args": _action_args(tool, args)},
        "now": epoch(facts.now),
        "pickup": {
            "id": pickup.id, "status": pickup.status.value, "customer_id": pickup.customer_id,
            "driver_id": pickup.driver_id, "requirements": [r.value for r in pickup.requirements],
            "weight_kg": pickup.weight_kg, "value_usd": pickup.value_usd, "window": _window(pickup.window),
        },
        "customer": {"id": facts.customer.id, "tier": facts.customer.tier.value, "notify": facts.customer.notify},
        "controls": {"mode": "live", "paused": False, "paused_intents": [], **(controls or {})},
        "case": {
            "confidence": standing.confidence, "category": standing.category, "cause": standing.cause,
            "notifications": standing.notifications, "credits": standing.credits,
            "changes_pickup": standing.changes_pickup,
        },
    }
    if standing.new_window:
        document["case"]["new_window"] = _window(standing.new_window)
    if standing.approval:
        document["case"]["approval"] = {"decision": standing.approval.get("decision")}
    if tool == "reassign_driver":
        candidate = next((c for c in facts.candidates if c.driver.id == args.get("driver_id")), None)
        if candidate is None:
            document["driver"] = {"id": args.get("driver_id"), "status": "unknown", "skills": [],
                                  "shift_end": 0, "distance_km": 1e9}
        else:
            d, v = candidate.driver, candidate.vehicle
            document["driver"] = {"id": d.id, "status": d.status.value, "skills": [s.value for s in d.skills],
                                  "shift_end": epoch(d.shift_end), "distance_km": candidate.distance_km}
            if v is not None:
                document["vehicle"] = {"id": v.id, "status": v.status.value, "capacity_kg": v.capacity_kg,
                                       "features": [f.value for f in v.features]}
    return document


def _action_args(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as the policy sees them: structured values only, free-text fields dropped."""
    shown = {k: v for k, v in args.items() if k not in ("message", "reason")}
    if tool == "reschedule_pickup" and "window" in args:
        shown["window"] = _window(args["window"])
    return shown
