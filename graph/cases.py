"""Cases end to end: submit an event (idempotently), run it through the graph, resume it, answer approvals."""
from __future__ import annotations

import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from langgraph.types import Command

from agents.decide import DecisionBackend, make_backend
from agents.executor import Executor
from agents.models import Event
from graph.build import build_graph
from graph.checkpoint import open_checkpointer
from graph.deps import CaseDeps
from guardrails.gate import PolicyGate, make_gate
from guardrails.policy_files import PolicySet
from settings import Settings, get_settings
from store import Store
from tools.actions import action_tools
from tools.backend import OperationsBackend
from tools.retry import Breakers, Sleep


# A node's checkpoint is on disk before the next node starts. With the default ("async") a crash could
# lose the plan's checkpoint while execute already applied effects; the resumed run would then re-plan
# against a world its own actions changed. Found by the crash-resume harness (evals/crash.py).
DURABILITY = "sync"


def case_id_for(event_id: str) -> str:
    return "case-" + re.sub(r"[^A-Za-z0-9._:-]", "_", event_id)


class QueueFull(Exception):
    """The work queue holds its maximum of waiting cases; nothing was written."""


@dataclass
class Submission:
    case_id: str
    created: bool
    note: str = ""


class CaseService:
    def __init__(self, graph, deps: CaseDeps):
        self.graph, self.deps = graph, deps

    @property
    def store(self) -> Store:
        return self.deps.store

    async def submit(self, event: Event, submitted_by: str | None = None, max_queued: int | None = None) -> Submission:
        """A repeated event id returns its case; an event for a pickup with an open case joins that case.
        Raises `QueueFull` (writing nothing) when `max_queued` cases already wait."""
        case_id, verdict = await self.store.admit(case_id_for(event.id), event.model_dump(), submitted_by, max_queued)
        if verdict == "full":
            raise QueueFull(max_queued)
        notes = {"created": "", "duplicate": "duplicate event id", "joined": "joined the open case for this pickup"}
        return Submission(case_id, verdict == "created", notes[verdict])

    def _config(self, case_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": case_id}}

    async def run(self, case_id: str) -> dict[str, Any]:
        """Run a submitted case until it ends or waits for approval; resumes from its checkpoint if it has one."""
        config = self._config(case_id)
        snapshot = await self.graph.aget_state(config)
        if snapshot.values:
            if snapshot.interrupts or not snapshot.next:
                return snapshot.values  # waiting for a human, or finished
            return await self.graph.ainvoke(None, config, context=self.deps, durability=DURABILITY)
        row = await self.store.get_case(case_id)
        return await self.graph.ainvoke({"case_id": case_id, "event": row.event}, config, context=self.deps, durability=DURABILITY)

    async def answer_approval(self, case_id: str, decision: str, by: str, comment: str = "") -> dict[str, Any]:
        """Resume a case paused for approval with the dispatcher's answer (in this process, now)."""
        command = Command(resume={"decision": decision, "by": by, "comment": comment})
        return await self.graph.ainvoke(command, self._config(case_id), context=self.deps, durability=DURABILITY)

    async def request_approval_answer(self, case_id: str, decision: str, by: str, comment: str = "") -> bool:
        """Record a dispatcher's answer for a worker to apply; False if the case is not waiting or already answered."""
        return await self.store.set_approval(case_id, {"decision": decision, "by": by, "comment": comment})

    async def apply_approval(self, case_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        """A worker applies a recorded answer: resume the interrupt, or, if a crash came after the resume
        began, carry on from the checkpoint. Clears the recorded answer."""
        snapshot = await self.graph.aget_state(self._config(case_id))
        if snapshot.interrupts:
            final = await self.answer_approval(case_id, answer["decision"], answer.get("by") or "", answer.get("comment") or "")
        else:
            final = await self.run(case_id)
        await self.store.update_case(case_id, approval=None)
        return final

    async def set_pause(self, pause: bool, by: str, intent: str | None = None) -> dict[str, Any]:
        """Switch the pause on or off, for every intent or one. Takes effect at every worker's next gate
        or action; resuming wakes the cases that were holding."""
        controls = await self.store.get_controls()
        intents = set(controls.get("paused_intents", []))
        if intent is None:
            controls = {"paused": pause, "paused_intents": [] if not pause else sorted(intents)}
        else:
            intents = intents | {intent} if pause else intents - {intent}
            controls = {"paused": controls.get("paused", False), "paused_intents": sorted(intents)}
        await self.store.set_controls(controls, by)
        if not pause:
            for row in await self.store.list_cases(status="paused", limit=1_000_000):
                await self.store.set_approval(row.id, {"decision": "resume", "by": by}, waiting="paused")
        return controls

    async def abandon_open_cases(self, why: str) -> list[str]:
        rows = await self.store.list_cases(statuses=("queued", "running", "awaiting_approval", "paused"), limit=1_000_000)
        for row in rows:
            await self.store.record(row.id, audit=[("case.abandoned", {"why": why})], case={"status": "failed"})
        return [row.id for row in rows]

    async def state(self, case_id: str) -> dict[str, Any]:
        values = (await self.graph.aget_state(self._config(case_id))).values
        if values:
            return values
        row = await self.store.get_case(case_id)
        return (row.final_state or {}) if row else {}

    async def prune_finished(self) -> int:
        """Drop the checkpoints of finished cases, keeping their final state on the case row and the
        whole audit trail. Cases waiting for a human keep theirs: they must resume."""
        pruned = 0
        for row in await self.store.list_cases(statuses=("resolved", "escalated", "failed"), limit=1_000_000):
            values = (await self.graph.aget_state(self._config(row.id))).values
            if not values:
                continue
            await self.store.update_case(row.id, final_state=values)
            await self.graph.checkpointer.adelete_thread(row.id)
            pruned += 1
        return pruned


def gate_from_settings(settings: Settings | None = None) -> PolicyGate:
    """In-process regopy, or an OPA server when RECOURSE_OPA_URL is set (checked against the repo's policies)."""
    settings = settings or get_settings()
    return make_gate(settings.opa_url, timeout_s=settings.opa_timeout_s, upload=settings.opa_upload)


@asynccontextmanager
async def open_case_service(backend: OperationsBackend, data_dir: str | Path, *, sleep: Sleep,
                            decider: DecisionBackend | None = None, gate: PolicyGate | None = None,
                            base_delay_s: float = 0.5, mode: str | None = None,
                            database_url: str | None = None, embedded: bool = False) -> AsyncIterator[CaseService]:
    """The case service on a store and checkpointer: the PostgreSQL database at `database_url`
    (default: RECOURSE_DATABASE_URL) for both, or SQLite files in `data_dir` when there is none or
    `embedded` asks for them (eval runs: every scenario in a fresh place)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = get_settings()
    database_url = None if embedded else database_url or settings.database_url
    gate = gate or gate_from_settings(settings)
    config = getattr(gate, "policies", PolicySet()).config  # limits come with the policies the gate enforces
    store = await Store.open(database_url or f"sqlite+aiosqlite:///{data_dir / 'recourse.db'}")
    try:
        async with open_checkpointer(database_url or str(data_dir / "checkpoints.db")) as saver:
            executor = Executor(action_tools(backend), Breakers(), max_retries=config["max_retries_per_action"],
                                sleep=sleep, base_delay_s=base_delay_s)
            owned = decider is None  # a backend made here is closed here (an LLM backend holds an HTTP client)
            decider = decider or make_backend(settings.decision_backend, settings)
            deps = CaseDeps(backend=backend, gate=gate, decider=decider,
                            executor=executor, store=store, config=config, mode=mode or settings.mode)
            try:
                yield CaseService(build_graph().compile(checkpointer=saver), deps)
            finally:
                if owned and hasattr(decider, "aclose"):
                    await decider.aclose()
    finally:
        await store.close()
