"""Cases/s of the full case graph (rules backend, AsyncSqliteSaver, audit + ledger on SQLite) over N cases,
next to a bare 5-node LangGraph graph with the same checkpointer, in the same run. Prints the ratio.

    python bench/throughput.py [--cases 300]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

from agents.models import Event
from evals.fleet import fleet_event, fleet_world
from graph.cases import open_case_service
from graph.checkpoint import open_checkpointer
from tools.domain import World
from tools.sim import SimulatedBackend

async def full_graph(cases: int, workdir: Path) -> float:
    backend = SimulatedBackend(World.model_validate(fleet_world(cases, tiers=("standard", "priority"))))
    async with open_case_service(backend, workdir, sleep=backend.sleep) as service:
        started = time.perf_counter()
        for i in range(cases):
            submission = await service.submit(Event.model_validate(fleet_event(i)))
            final = await service.run(submission.case_id)
            assert final["outcome"] == "resolved", final.get("escalation")
        elapsed = time.perf_counter() - started
    assert len(backend.effects) == 2 * cases
    return cases / elapsed


class Bare(TypedDict):
    n: int


async def bare_graph(cases: int, path: Path) -> float:
    graph = StateGraph(Bare)
    names = ["a", "b", "c", "d", "e"]
    for name in names:
        graph.add_node(name, lambda state: {"n": state["n"] + 1})
    graph.add_edge(START, names[0])
    for left, right in zip(names, names[1:]):
        graph.add_edge(left, right)
    graph.add_edge(names[-1], END)
    async with open_checkpointer(str(path)) as saver:
        app = graph.compile(checkpointer=saver)
        started = time.perf_counter()
        for i in range(cases):
            await app.ainvoke({"n": 0}, {"configurable": {"thread_id": f"t{i}"}})
        return cases / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = await bare_graph(args.cases, Path(tmp) / "bare.db")
        full = await full_graph(args.cases, Path(tmp) / "full")
    print(f"bare 5-node graph, AsyncSqliteSaver : {bare:8.1f} runs/s")
    print(f"full case graph ({args.cases} cases)       : {full:8.1f} cases/s")
    print(f"ratio full/bare                      : {full / bare:8.2f}  (goal >= 0.8)")


if __name__ == "__main__":
    asyncio.run(main())
