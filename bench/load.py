"""The load generator shared by the HTTP benchmarks: fleet events submitted at a fixed concurrency."""
from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from evals.fleet import fleet_event


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def submit_fleet(client: httpx.AsyncClient, n: int, concurrency: int) -> tuple[list[str], Counter, list[float]]:
    """Events 0..n-1 through `concurrency` concurrent submitters; returns (case ids, HTTP codes, latencies)."""
    pending, case_ids, codes, latencies = iter(range(n)), [], Counter(), []

    async def submitter() -> None:
        for i in pending:
            started = time.perf_counter()
            response = await client.post("/v1/exceptions", json=fleet_event(i))
            latencies.append(time.perf_counter() - started)
            codes[response.status_code] += 1
            if response.status_code in (200, 202):
                case_ids.append(response.json()["case_id"])

    await asyncio.gather(*(submitter() for _ in range(concurrency)))
    return case_ids, codes, latencies
