"""The case graph, readable top to bottom: which node runs next, and why."""
from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graph import nodes
from graph.deps import CaseDeps
from graph.state import CaseState
from observability.tracing import traced_node


def route_after_classify(state: CaseState) -> str:
    return "escalate" if state.get("escalate_reason") else "plan"


def route_after_plan(state: CaseState) -> str:
    if state.get("escalate_reason"):
        return "escalate"
    return "gate" if state["plan"]["actions"] else "verify"


def route_after_gate(state: CaseState) -> str:
    dispositions = {d["disposition"] for d in state["decisions"]}
    if "denied" in dispositions:
        return "escalate" if state.get("escalate_reason") else "plan"
    if "allowed" in dispositions:
        return "execute"
    return "hold" if "paused" in dispositions else "verify"


def route_after_execute(state: CaseState) -> str:
    if state.get("escalate_reason"):
        return "escalate"
    if state.get("halted") == "paused":
        return "gate"
    last = state["results"][-1] if state.get("results") else None
    return "plan" if last and last["status"] == "conflict" else "verify"


def route_after_verify(state: CaseState) -> str:
    if state.get("escalate_reason"):
        return "escalate"
    if state.get("outcome") in ("resolved", "shadowed"):
        return END
    paused = any(d["disposition"] == "paused" for d in state["decisions"])
    return "hold" if paused else "request_approval"


def route_after_approval(state: CaseState) -> str:
    return "escalate" if state.get("escalate_reason") else "gate"


NODES = ("classify", "plan", "gate", "execute", "verify", "request_approval", "wait_for_approval", "hold",
         "wait_for_resume", "escalate")


def build_graph() -> StateGraph:
    graph = StateGraph(CaseState, context_schema=CaseDeps)
    for name in NODES:
        graph.add_node(name, traced_node(name, getattr(nodes, name)))

    graph.add_edge(START, "classify")
    graph.add_conditional_edges("classify", route_after_classify, ["plan", "escalate"])
    graph.add_conditional_edges("plan", route_after_plan, ["gate", "verify", "escalate"])
    graph.add_conditional_edges("gate", route_after_gate, ["execute", "verify", "plan", "escalate", "hold"])
    graph.add_conditional_edges("execute", route_after_execute, ["verify", "plan", "escalate", "gate"])
    graph.add_conditional_edges("verify", route_after_verify, [END, "request_approval", "hold", "escalate"])
    graph.add_edge("request_approval", "wait_for_approval")
    graph.add_conditional_edges("wait_for_approval", route_after_approval, ["gate", "escalate"])
    graph.add_edge("hold", "wait_for_resume")
    graph.add_edge("wait_for_resume", "gate")
    graph.add_edge("escalate", END)
    return graph
