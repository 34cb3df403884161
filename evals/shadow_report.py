"""Shadow-mode report: what Recourse would have done, next to what people actually did, per case.

What was actually done is read from the system of record afterwards: a different driver on the
pickup means a reassignment, a different window a reschedule, a cancelled status a cancellation;
messages and credits are listed by the messaging and billing systems."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store import Store
from tools.backend import OperationsBackend


@dataclass
class ShadowRow:
    case_id: str
    pickup_id: str
    would_be: str
    would_do: list[str]
    actually_did: list[str]

    @property
    def agrees(self) -> bool:
        return sorted(self.would_do) == sorted(self.actually_did)


def _label(tool: str, args: dict[str, Any]) -> str:
    return f"reassign_driver:{args['driver_id']}" if tool == "reassign_driver" else tool


async def actual_actions(backend: OperationsBackend, before: dict[str, Any]) -> list[str]:
    now = await backend.get_pickup(before["id"])
    done = []
    if now.driver_id != before["driver_id"]:
        done.append(_label("reassign_driver", {"driver_id": now.driver_id}))
    if now.window.model_dump(mode="json") != before["window"]:
        done.append("reschedule_pickup")
    if now.status.value == "cancelled" and before["status"] != "cancelled":
        done.append("cancel_pickup")
    if await backend.list_notifications(before["id"]):
        done.append("notify_customer")
    if await backend.list_credits(before["customer_id"]):
        done.append("issue_credit")
    return done


async def shadow_report(store: Store, backend: OperationsBackend) -> list[ShadowRow]:
    rows = []
    for case in await store.list_cases(status="shadowed", limit=1_000_000):
        entry = next(e["payload"] for e in reversed(await store.audit_entries(case.id)) if e["kind"] == "case.shadowed")
        would = [_label(a["tool"], a["args"]) for a in entry["would_do"] if a["disposition"] in ("shadow_allowed", "shadow_held")]
        rows.append(ShadowRow(case.id, case.pickup_id, entry["would_be"], would, await actual_actions(backend, entry["pickup"])))
    return rows
