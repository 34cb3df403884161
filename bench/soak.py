"""Soak: N exceptions through a real `recourse serve` on loopback while a seeded share of action calls fail.

At concurrency C, with the simulator failing that share of its action calls (timeout or unavailable;
half the timeouts after the effect took place, reply lost).

Reports: accepted, terminal (0 lost), duplicate effects (0), the server's RSS at start / end / peak,
attempts and retries per action, breaker refusals, wall time. Bounded: N submissions, then a deadline
(--max-minutes) after which it reports what is unfinished and exits 1; it stops the server itself.

    python bench/soak.py [--n 10000] [--concurrency 64] [--workers 4] [--fault-rate 0.05] [--seed 7]
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
from guardrails.policy_files import PolicySet  # noqa: E402
from tests.api.server import Server, create_key  # noqa: E402
from tools.sim.faults import FaultRate  # noqa: E402

TERMINAL = {"resolved", "escalated", "awaiting_approval", "failed"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def sample_rss(pid: int, samples: list[float], every_s: float = 1.0) -> None:
    while True:
        samples.append(rss_mb(pid))
        await asyncio.sleep(every_s)


async def statuses(client: httpx.AsyncClient) -> dict[str, str]:
    seen, offset = {}, 0
    while offset is not None:
        page = (await client.get("/v1/cases", params={"limit": 500, "offset": offset})).json()
        seen.update({item["id"]: item["status"] for item in page["items"]})
        offset = page["next_offset"]
    return seen


async def wait_terminal(client: httpx.AsyncClient, case_ids: list[str], deadline: float) -> dict[str, str]:
    while True:
        seen = await statuses(client)
        if all(seen.get(c) in TERMINAL for c in case_ids) or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(1.0)


async def case_views(client: httpx.AsyncClient, case_ids: list[str], concurrency: int) -> tuple[list[dict], Counter]:
    """Every action result of the cases (with its attempts), and the escalation reasons."""
    pending, results, reasons = iter(case_ids), [], Counter()

    async def reader() -> None:
        for case_id in pending:
            view = (await client.get(f"/v1/cases/{case_id}")).json()
            results.extend(view["actions"])
            if view["escalation"]:
                reasons[view["escalation"]["reason"]] += 1

    await asyncio.gather(*(reader() for _ in range(concurrency)))
    return results, reasons


def fault_tally(results: list[dict], rate: FaultRate) -> tuple[Counter, int]:
    """The faults each action met, recomputed from the seed: (kinds seen, attempts whose recorded error
    differs from what the seed says). Refusals by an open breaker never reach the backend and are skipped."""
    kinds, mismatches = Counter(), 0
    for result in results:
        reached = [a for a in result["attempts"] if a["error"] != "circuit_open"]
        for n, attempt in enumerate(reached, start=1):
            fault = rate.draw(result["tool"], result["idempotency_key"], n)
            expected = fault.error.value if fault else None
            mismatches += expected != attempt["error"]
            if fault:
                kinds[f"{fault.error.value}{' (applied)' if fault.applied else ''}"] += 1
    return kinds, mismatches


async def soak(args: argparse.Namespace, data: Path) -> int:
    world = data / "fleet.yaml"
    world.write_text(yaml.dump(fleet_scenario(args.n), Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))
    submitter_key, dispatcher_key, admin_key = (create_key(data, role) for role in ("submitter", "dispatcher", "admin"))
    server = Server(data, world=world, workers=args.workers, queue_size=args.n + 1, retry_base_delay_s=args.retry_delay,
                    sim_fault_rate=args.fault_rate, sim_fault_seed=args.seed,
                    log_level="WARNING")  # its stderr is a pipe nobody drains while it runs: keep it quiet
    assert server.url.startswith("http://127.0.0.1:"), "loopback only"
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    try:
        loading = time.perf_counter()
        server.start(timeout=600)  # the server parses the scenario file (pure-Python YAML: ~45 s for 10,000 pickups)
        load_s = time.perf_counter() - loading
        pid = server.process.pid
        rss: list[float] = []
        sampler = asyncio.create_task(sample_rss(pid, rss))
        await asyncio.sleep(0)
        started, deadline = time.perf_counter(), time.monotonic() + args.max_minutes * 60
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {submitter_key}"},
                                     limits=limits, timeout=60) as client:
            case_ids, codes, latencies = await submit_fleet(client, args.n, args.concurrency)
        submitted_s = time.perf_counter() - started
        rss_after_submit = rss_mb(pid)
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {dispatcher_key}"},
                                     limits=limits, timeout=60) as client:
            seen = await wait_terminal(client, case_ids, deadline)
            done_s = time.perf_counter() - started
            rss_end = rss_mb(pid)
            sampler.cancel()
            results, reasons = await case_views(client, case_ids, args.concurrency)
        async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=120) as client:
            effects = (await client.get("/v1/sim/effects")).json()["effects"]
    finally:
        died = server.process is not None and server.process.poll() is not None
        server.stop()
        if died:
            print(f"the server exited with {server.process.returncode}:\n{server.errors()[-3000:]}",
                  file=sys.stderr)

    lost = [c for c in case_ids if seen.get(c) not in TERMINAL]
    keys = Counter(e["idempotency_key"] for e in effects)
    # an action given up after a timeout may have taken effect all the same (the reply was what got lost)
    unknown = [r for r in results if r["status"] != "succeeded" and r["idempotency_key"] in keys]
    attempts, bound = [len(r["attempts"]) for r in results], 1 + PolicySet().config["max_retries_per_action"]
    refusals = sum(a["error"] == "circuit_open" for r in results for a in r["attempts"])
    kinds, mismatches = fault_tally(results, FaultRate(rate=args.fault_rate, seed=args.seed))
    outcomes = Counter(seen[c] for c in case_ids if c in seen)
    print(f"soak                   : {args.n} exceptions, concurrency {args.concurrency}, {args.workers} case workers, "
          f"fault rate {args.fault_rate:.0%} (seed {args.seed}), retry base delay {args.retry_delay}s, loopback")
    print(f"HTTP codes             : {dict(codes)}")
    print(f"accepted               : {len(case_ids)}  ({len(case_ids) / submitted_s:.0f}/s; accept p50/p99 "
          f"{statistics.median(latencies) * 1e3:.1f}/{percentile(latencies, 99) * 1e3:.1f} ms)")
    print(f"terminal               : {len(case_ids) - len(lost)}  {dict(outcomes)}; escalation reasons {dict(reasons)}")
    print(f"lost                   : {len(lost)}{'  e.g. ' + ', '.join(lost[:5]) if lost else ''}"
          f"{'  (not terminal when --max-minutes ran out)' if lost else ''}")
    print(f"effects                : {len(effects)}  duplicates {duplicate_count(effects)}, "
          f"repeated idempotency keys {sum(n - 1 for n in keys.values())}")
    print(f"actions                : {len(results)}  attempts {sum(attempts)}, retries {sum(attempts) - len(results)} "
          f"({(sum(attempts) - len(results)) / max(len(results), 1):.3f} per action), max attempts {max(attempts, default=0)} "
          f"(bound {bound}), "
          f"breaker refusals {refusals}")
    print(f"given up, yet applied  : {len(unknown)}  (actions escalated as failed whose effect took place after a "
          f"lost reply){'  e.g. ' + unknown[0]['idempotency_key'] if unknown else ''}")
    print(f"faults met             : {dict(kinds)}  (attempts differing from the seed's draw: {mismatches})")
    print(f"server RSS             : start {rss[0]:.1f} MB, after submitting {rss_after_submit:.1f} MB, "
          f"end {rss_end:.1f} MB, peak {max(rss):.1f} MB")
    print(f"wall time              : server start {load_s:.1f} s, submit {submitted_s:.1f} s, all terminal {done_s:.1f} s "
          f"({(len(case_ids) - len(lost)) / done_s:.0f} cases/s)")
    bad = lost or duplicate_count(effects) or any(n > 1 for n in keys.values()) or max(attempts, default=0) > bound
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="exceptions to submit")
    parser.add_argument("--concurrency", type=int, default=64, help="submissions in flight")
    parser.add_argument("--workers", type=int, default=4, help="cases run concurrently in the server")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="share of action calls that fail")
    parser.add_argument("--seed", type=int, default=7, help="seed of the faults")
    parser.add_argument("--retry-delay", type=float, default=0.05, help="first retry backoff, seconds (doubles)")
    parser.add_argument("--max-minutes", type=float, default=30, help="give up waiting for cases after this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="recourse-soak-") as tmp:
        code = asyncio.run(soak(args, Path(tmp)))
    sys.exit(code)


if __name__ == "__main__":
    main()
