"""N submissions at concurrency C against a real `recourse serve` on loopback.

Reports accepted/s, p50/p99 accept latency, cases completed/s, lost and duplicate effects.
The load generator runs in its own process (this one) with an async HTTP client; the server is
a separate process, so the two share the machine's 2 cores.

    python bench/api_load.py [--n 2000] [--concurrency 32] [--workers 4]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import percentile, submit_fleet  # noqa: E402
from evals.fleet import fleet_scenario  # noqa: E402
from evals.grading import duplicate_count  # noqa: E402
from tests.api.server import Server, SimServer, Worker, create_key  # noqa: E402

TERMINAL = {"resolved", "escalated", "awaiting_approval", "failed"}


async def submit_all(url: str, key: str, n: int, concurrency: int) -> tuple[list[float], list[str], Counter]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
        case_ids, codes, latencies = await submit_fleet(client, n, concurrency)
    return latencies, case_ids, codes


async def wait_all(url: str, key: str, case_ids: list[str], timeout: float) -> Counter:
    headers = {"Authorization": f"Bearer {key}"}
    statuses: Counter = Counter()
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        while time.monotonic() < deadline:
            page, offset, statuses = None, 0, Counter()
            while True:
                page = (await client.get("/v1/cases", params={"limit": 500, "offset": offset})).json()
                statuses.update(item["status"] for item in page["items"])
                if page["next_offset"] is None:
                    break
                offset = page["next_offset"]
            if sum(statuses[s] for s in TERMINAL) >= len(case_ids):
                return statuses
            await asyncio.sleep(0.2)
    return statuses


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--topology", choices=["inline", "split"], default="inline",
                        help="inline: cases run inside the API process; split: API, `recourse worker` and the "
                             "simulator as three processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = data / "fleet.yaml"
        world.write_text(yaml.safe_dump(fleet_scenario(args.n)))
        submitter, dispatcher, admin = (create_key(data, role) for role in ("submitter", "dispatcher", "admin"))
        processes = []
        if args.topology == "inline":
            server = Server(data, world=world, workers=args.workers, queue_size=args.n + 1)
        else:
            sim = SimServer(data / "sim", world).start()
            server = Server(data, ops_url=sim.url, workers=0, queue_size=args.n + 1)
            processes += [sim, Worker(data, sim.url, workers=args.workers)]
        processes.append(server.start())
        if args.topology == "split":
            processes[1].start()
        try:
            started = time.perf_counter()
            latencies, case_ids, codes = await submit_all(server.url, submitter, args.n, args.concurrency)
            accepted_s = time.perf_counter() - started
            statuses = await wait_all(server.url, dispatcher, case_ids, timeout=max(120, args.n / 5))
            done_s = time.perf_counter() - started
            async with httpx.AsyncClient(timeout=60) as client:
                if args.topology == "inline":
                    effects = (await client.get(f"{server.url}/v1/sim/effects", headers={"Authorization": f"Bearer {admin}"})).json()
                else:
                    effects = (await client.get(f"{processes[0].url}/effects")).json()
        finally:
            for process in reversed(processes):
                process.stop()
    terminal = sum(statuses[s] for s in TERMINAL)
    print(f"submissions            : {args.n} at concurrency {args.concurrency}, {args.workers} case workers, {args.topology} topology")
    print(f"HTTP codes             : {dict(codes)}")
    print(f"accepted/s             : {len(case_ids) / accepted_s:8.1f}")
    print(f"accept latency p50/p99 : {statistics.median(latencies) * 1e3:6.1f} ms / {percentile(latencies, 99) * 1e3:6.1f} ms  (goal p99 <= 20 ms)")
    print(f"cases completed/s      : {terminal / done_s:8.1f}  ({dict(statuses)})")
    print(f"lost                   : {len(case_ids) - terminal}")
    print(f"duplicate effects      : {duplicate_count(effects['effects'])}")


if __name__ == "__main__":
    asyncio.run(main())
