"""The verifier: re-reads the system of record and checks each executed action's postcondition.

A case is resolved only when every action that reported success is visible in the record as intended.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tools.backend import OperationsBackend
from tools.domain import PickupStatus, Window


class Check(BaseModel):
    idempotency_key: str
    tool: str
    holds: bool
    observed: str


class Verification(BaseModel):
    ok: bool
    checks: list[Check]


async def verify(backend: OperationsBackend, succeeded: list[dict[str, Any]]) -> Verification:
    checks = [await _check(backend, action) for action in succeeded]
    return Verification(ok=all(c.holds for c in checks), checks=checks)


async def _check(backend: OperationsBackend, action: dict[str, Any]) -> Check:
    tool, args, key = action["tool"], action["args"], action["idempotency_key"]
    if tool == "reassign_driver":
        p = await backend.get_pickup(args["pickup_id"])
        holds = p.driver_id == args["driver_id"] and p.status == PickupStatus.assigned
        observed = f"pickup {p.id} is {p.status.value} with driver {p.driver_id}"
    elif tool == "reschedule_pickup":
        p = await backend.get_pickup(args["pickup_id"])
        wanted = Window.model_validate(args["window"])
        holds = p.window == wanted and p.status == PickupStatus.rescheduled
        observed = f"pickup {p.id} is {p.status.value}, window {p.window.start.isoformat()}..{p.window.end.isoformat()}"
    elif tool == "cancel_pickup":
        p = await backend.get_pickup(args["pickup_id"])
        holds, observed = p.status == PickupStatus.cancelled, f"pickup {p.id} is {p.status.value}"
    elif tool == "notify_customer":
        sent = [n for n in await backend.list_notifications(args["pickup_id"]) if n.get("idempotency_key") == key]
        holds, observed = len(sent) == 1, f"{len(sent)} message(s) with this key"
    elif tool == "issue_credit":
        credits = [c for c in await backend.list_credits(args["customer_id"]) if c.get("idempotency_key") == key]
        holds = len(credits) == 1 and credits[0]["amount_usd"] == args["amount_usd"]
        observed = f"{len(credits)} credit(s) with this key" + (f" of {credits[0]['amount_usd']} USD" if credits else "")
    else:
        holds, observed = False, f"no postcondition known for {tool}"
    return Check(idempotency_key=key, tool=tool, holds=holds, observed=observed)
