"""The graph's nodes: each reads the state and returns a partial update, and audits what it did."""
from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.models import Classification, Event, Plan, PlanningInput, ScreenedCandidate
from agents.verifier import verify as verify_postconditions
from graph.deps import CaseDeps
from observability import metrics
from observability.tracing import tracer
from graph.escalation import build_packet
from graph.state import CaseState
from guardrails.decision import ERROR_RULE, UNAVAILABLE_RULE
from guardrails.facts import CaseStanding, policy_input
from tools.actions import validate_args
from tools.errors import OpsNotFound
from tools.idempotency import idempotency_key
from tools.read import CaseFacts, gather_case_facts

CHANGES = ("reassign_driver", "reschedule_pickup", "cancel_pickup")
UNAVAILABLE_RULES = (ERROR_RULE, UNAVAILABLE_RULE)


def option_id(tool: str, args: dict[str, Any]) -> str:
    """How a deny or a conflict names the option to leave out of the next plan."""
    return f"reassign_driver:{args.get('driver_id')}" if tool == "reassign_driver" else tool


def succeeded(state: CaseState) -> list[dict[str, Any]]:
    seen, done = set(), []
    for r in state.get("results", []):
        if r["status"] == "succeeded" and r["idempotency_key"] not in seen:
            seen.add(r["idempotency_key"])
            done.append(r)
    return done


def standing(state: CaseState, confidence: float | None = None) -> CaseStanding:
    c = state["classification"]
    done = succeeded(state)
    planned = (state.get("plan") or {}).get("actions", [])
    tools_seen = [a["tool"] for a in planned] + [r["tool"] for r in done]
    windows = [a["args"]["window"] for a in planned if a["tool"] == "reschedule_pickup"]
    windows += [r["args"]["window"] for r in done if r["tool"] == "reschedule_pickup"]
    return CaseStanding(
        confidence=c["confidence"] if confidence is None else confidence, category=c["category"], cause=c["cause"],
        notifications=sum(r["tool"] == "notify_customer" for r in done),
        credits=sum(r["tool"] == "issue_credit" for r in done),
        changes_pickup=any(t in CHANGES for t in tools_seen),
        new_window=windows[-1] if windows else None,
    )


async def classify(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    deps = runtime.context
    event = Event.model_validate(state["event"])
    try:
        facts = await gather_case_facts(deps.backend, event.pickup_id)
    except OpsNotFound as exc:
        c = Classification(category="other", severity="medium", confidence=0.0, rationale=f"unknown record: {exc}")
        await deps.store.append_audit(state["case_id"], [("classified", {**c.model_dump(), "backend": "none"})])
        return {"classification": c.model_dump(), "escalate_reason": "low_confidence"}
    c = await deps.decider.classify(event, facts)
    sufficient = deps.gate.confidence_sufficient(c.confidence)
    await deps.store.record(state["case_id"], case={"status": "running", "category": c.category.value},
                            audit=[("classified", {**c.model_dump(mode="json"), "backend": deps.decider.name,
                                                   "confidence_sufficient": sufficient})])
    reason = None if sufficient else ("policy_unavailable" if sufficient is None else "low_confidence")
    return {"classification": c.model_dump(mode="json"), "escalate_reason": reason}


async def plan(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    deps = runtime.context
    event = Event.model_validate(state["event"])
    facts = await gather_case_facts(deps.backend, event.pickup_id, candidates=deps.config["candidates_screened"])
    excluded = state.get("excluded", [])
    screened = _screen_candidates(deps, state, facts, excluded)
    proposal: Plan = await deps.decider.plan(PlanningInput(
        event=event, classification=Classification.model_validate(state["classification"]), facts=facts,
        screened=screened, config=deps.config, excluded=excluded))
    problems = _invalid_actions(proposal)
    revision = state.get("plan_revision", 0) + 1
    policy_down = any(s.unavailable for s in screened)
    await deps.store.append_audit(state["case_id"], [("planned", {"revision": revision, **proposal.model_dump(mode="json"),
                                                                  "invalid": problems})])
    reason = "policy_unavailable" if policy_down else proposal.escalate or ("policy_denied" if problems else None)
    return {"plan": proposal.model_dump(mode="json"), "plan_revision": revision, "decisions": [], "escalate_reason": reason}


def _screen_candidates(deps: CaseDeps, state: CaseState, facts: CaseFacts, excluded: list[str]) -> list[ScreenedCandidate]:
    """Ask the gate about replacement drivers, nearest first, so the policy alone decides who qualifies
    (qualifies: no deny; whether the reassignment then needs an approval is the gate node's business).

    Stops after a few qualified ones or a bounded number of drivers: a fleet of thousands is not
    screened for every case, and the planner wants the nearest qualified drivers anyway.
    """
    base = standing(state).model_copy(update={"changes_pickup": True})
    screened: list[ScreenedCandidate] = []
    for candidate in facts.candidates:
        args = {"pickup_id": facts.pickup.id, "driver_id": candidate.driver.id}
        if option_id("reassign_driver", args) in excluded:
            screened.append(ScreenedCandidate(driver_id=candidate.driver.id, distance_km=candidate.distance_km, allowed=False,
                                              reasons=["excluded after an earlier deny or conflict"]))
            continue
        decision = deps.gate.decide(policy_input("reassign_driver", args, facts, base))
        screened.append(ScreenedCandidate(driver_id=candidate.driver.id, distance_km=candidate.distance_km,
                                          allowed=not decision.deny, reasons=[r.msg for r in decision.deny],
                                          unavailable=any(r.rule in UNAVAILABLE_RULES for r in decision.deny)))
        if sum(s.allowed for s in screened) >= deps.config["candidates_qualified"]:
            break
    return screened


def _invalid_actions(proposal: Plan) -> list[str]:
    problems = []
    for i, action in enumerate(proposal.actions):
        try:
            action.args = validate_args(action.tool, action.args)
        except ValueError as exc:
            problems.append(f"action {i} ({action.tool}): {exc}")
        if any(j >= i or j < 0 for j in action.after):
            problems.append(f"action {i} ({action.tool}): depends on a later or unknown action")
    return problems


async def gate(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    deps = runtime.context
    actions = state["plan"]["actions"]
    named = tuple(a["args"]["driver_id"] for a in actions if a["tool"] == "reassign_driver")
    facts = await gather_case_facts(deps.backend, state["event"]["pickup_id"], drivers=named)
    done = {r["idempotency_key"] for r in succeeded(state)}
    approval = state.get("approval") or {}
    case_standing = standing(state)
    controls = await deps.controls()
    decisions: list[dict[str, Any]] = []
    for i, action in enumerate(actions):
        tool, args = action["tool"], action["args"]
        key = idempotency_key(state["case_id"], tool, args)
        approved = approval if key in approval.get("keys", []) else None
        with tracer.start_as_current_span("gate.decision", attributes={"recourse.tool": tool,
                                                                       "recourse.engine": deps.gate.engine}):
            decision = deps.gate.decide(policy_input(tool, args, facts, case_standing.model_copy(update={"approval": approved}),
                                                     controls))
        disposition, why = _disposition(key in done, decision, [decisions[j] for j in action["after"]])
        decisions.append({"index": i, "tool": tool, "args": args, "key": key, "disposition": disposition, "why": why,
                          "decision": decision.model_dump(mode="json")})
    await deps.store.append_audit(state["case_id"], [("gate.decision", d) for d in decisions])
    for d in decisions:
        metrics.observe_gate(d)
    denied = [d for d in decisions if d["disposition"] == "denied"]
    update: dict[str, Any] = {"decisions": decisions, "escalate_reason": None, "halted": None}
    if any(r["rule"] in UNAVAILABLE_RULES for d in denied for r in d["decision"]["deny"]):
        update["escalate_reason"] = "policy_unavailable"  # fail closed: no re-plan can help while the policy is unreachable
    elif denied:
        update["excluded"] = state.get("excluded", []) + [option_id(d["tool"], d["args"]) for d in denied]
        if state.get("plan_revision", 1) > deps.config["replans_per_case"]:
            update["escalate_reason"] = "policy_denied"
    return update


def _disposition(done: bool, decision, prerequisites: list[dict[str, Any]]) -> tuple[str, str]:
    if done:
        return "done", "already took effect in this case"
    if any(p["disposition"] in ("denied", "blocked") for p in prerequisites):
        return "blocked", "an action it depends on was denied"
    if not decision.allow and not decision.needs_approval:
        return "denied", "; ".join(r.msg for r in decision.deny)
    if decision.paused:
        return "paused", "a pause switch covers this intent; it runs after resume"
    if decision.needs_approval:
        verdict = ("held", "; ".join(r.msg for r in decision.approval))
    elif any(p["disposition"] in ("held", "shadow_held") for p in prerequisites):
        verdict = ("held", "waits for an action held for approval")
    else:
        verdict = ("allowed", "the policy allows it")
    if decision.level == "shadow":
        return f"shadow_{verdict[0]}", f"shadow mode: recorded, not executed ({verdict[1]})"
    return verdict


async def execute(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    deps = runtime.context
    results = list(state.get("results", []))
    update: dict[str, Any] = {"escalate_reason": None}
    for d in state["decisions"]:
        if d["disposition"] != "allowed":
            continue
        if await _paused(deps, d["tool"]):
            update["halted"] = "paused"  # switched on since the gate looked: back to the gate, which holds it
            break
        with tracer.start_as_current_span(f"tool.{d['tool']}", attributes={"recourse.case_id": state["case_id"],
                                                                          "recourse.idempotency_key": d["key"]}) as span:
            async def count_failure(_attempt, d=d):
                await deps.store.count_failed_attempt(state["case_id"], d["key"], d["tool"], d["args"])
            made = await deps.store.attempts_made(d["key"])
            result = (await deps.executor.run(d["index"], d["tool"], d["args"], d["key"], already_made=made,
                                              after_failure=count_failure)).model_dump(mode="json")
            span.set_attribute("recourse.status", result["status"])
            span.set_attribute("recourse.attempts", len(result["attempts"]))
        metrics.observe_action(result, deps.executor.breakers[d["tool"]].state)
        if result["status"] == "exhausted":
            result = await _confirm_from_record(deps, result)
        results.append(result)
        await deps.store.record(state["case_id"], audit=[("action", result)], action=result)
        if result["status"] == "conflict" and state.get("plan_revision", 1) <= deps.config["replans_per_case"]:
            update["excluded"] = state.get("excluded", []) + [option_id(d["tool"], d["args"])]
            break
        if result["status"] != "succeeded":
            update["escalate_reason"] = "execution_failed" if result["status"] == "failed" else "retries_exhausted"
            break
    update["results"] = results
    return update


async def _confirm_from_record(deps: CaseDeps, result: dict[str, Any]) -> dict[str, Any]:
    """A timeout may have taken effect with its reply lost (in this run or before a restart). Before giving
    up, read the system of record: if the action's postcondition holds, it happened (once: the key was
    the same on every attempt), and a dispatcher must not be told to redo it."""
    try:
        check = (await verify_postconditions(deps.backend, [result])).checks[0]
    except Exception:  # noqa: BLE001 - the record cannot be read now: stay with "exhausted"
        return result
    if not check.holds:
        return result
    return {**result, "status": "succeeded", "error": None, "confirmed_by_read": check.observed}


async def _paused(deps: CaseDeps, tool: str) -> bool:
    controls = await deps.store.get_controls()
    return bool(controls.get("paused")) or tool in controls.get("paused_intents", [])


async def verify(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    deps = runtime.context
    verification = await verify_postconditions(deps.backend, succeeded(state))
    dispositions = [d["disposition"] for d in state.get("decisions", [])]
    audit = [("verified", verification.model_dump())]
    update: dict[str, Any] = {"verification": verification.model_dump()}
    if not verification.ok:
        update["escalate_reason"] = "verification_failed"
    elif any(d.startswith("shadow_") for d in dispositions):
        would_be = "awaiting_approval" if "shadow_held" in dispositions else "resolved"
        update["outcome"] = "shadowed"
        pickup = await deps.backend.get_pickup(state["event"]["pickup_id"])  # as it stood: the shadow report compares
        audit.append(("case.shadowed", {"would_be": would_be, "would_do": [
            {"tool": d["tool"], "args": d["args"], "disposition": d["disposition"]} for d in state["decisions"]],
            "pickup": pickup.model_dump(mode="json", include={"id", "customer_id", "driver_id", "window", "status"})}))
    elif "held" not in dispositions and "paused" not in dispositions:
        update["outcome"] = "resolved"
        audit.append(("case.resolved", {"actions": [r["idempotency_key"] for r in succeeded(state)]}))
    status = {"resolved": "resolved", "shadowed": "shadowed"}.get(update.get("outcome"))
    await deps.store.record(state["case_id"], audit=audit, case={"status": status} if status else None)
    return update


async def request_approval(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    deps = runtime.context
    held = [d for d in state["decisions"] if d["disposition"] == "held"]
    facts = await gather_case_facts(deps.backend, state["event"]["pickup_id"])
    packet = build_packet("needs_approval", state, facts, held)
    await deps.store.record(state["case_id"], case={"status": "awaiting_approval", "escalation": packet},
                            audit=[("approval.requested", {"held": packet["held_actions"]})])
    return {"outcome": "awaiting_approval", "escalation": packet}


async def wait_for_approval(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    """Pauses the case until a dispatcher answers. Nothing before `interrupt` has side effects: it re-runs on resume."""
    answer = interrupt({"case_id": state["case_id"], "held": state["escalation"]["held_actions"]})
    keys = [h["idempotency_key"] for h in state["escalation"]["held_actions"]]
    approval = {"decision": answer.get("decision"), "by": answer.get("by"), "comment": answer.get("comment"), "keys": keys}
    await runtime.context.store.append_audit(state["case_id"], [("approval.received", approval)])
    if approval["decision"] == "approve":
        return {"approval": approval, "outcome": "running", "escalate_reason": None}
    reason = "approval_expired" if approval["decision"] == "expired" else "approval_rejected"
    return {"approval": approval, "outcome": "escalated", "escalate_reason": reason}


async def hold(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    paused = [d["tool"] for d in state["decisions"] if d["disposition"] == "paused"]
    await runtime.context.store.record(state["case_id"], case={"status": "paused"},
                                       audit=[("case.paused", {"intents": sorted(set(paused))})])
    return {"outcome": "paused", "halted": None}


async def wait_for_resume(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    """Pauses until an operator resumes; then the gate looks again (the switch may still cover some intents)."""
    answer = interrupt({"case_id": state["case_id"], "paused": True})
    await runtime.context.store.record(state["case_id"], case={"status": "running"},
                                       audit=[("case.resumed", {"by": (answer or {}).get("by")})])
    return {"outcome": "running"}


async def escalate(state: CaseState, runtime: Runtime[CaseDeps]) -> dict[str, Any]:
    deps = runtime.context
    reason = state.get("escalate_reason") or "no_candidate"
    try:
        facts = await gather_case_facts(deps.backend, state["event"]["pickup_id"])
    except OpsNotFound:
        facts = None
    packet = build_packet(reason, state, facts)
    await deps.store.record(state["case_id"], case={"status": "escalated", "escalation": packet},
                            audit=[("case.escalated", {"reason": reason, "recommended_action": packet["recommended_action"]})])
    return {"outcome": "escalated", "escalation": packet}
