"""Per-decision latency of the policy gate: in-process regopy (prepared bundle) and an OPA server over loopback,
same policies, same inputs (every gate input made while running the scenarios), same run. Prints p50/p99.

    python bench/gate.py [--rounds 20] [--opa-url http://127.0.0.1:8181]

Without --opa-url (or RECOURSE_OPA_URL) it starts `opa run --server` on a free loopback port, with the binary
from RECOURSE_OPA_BIN or the one .ci/opa.sh caches. Goal: in-process p99 <= 1 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from evals.loader import load_scenario  # noqa: E402
from graph.cases import open_case_service  # noqa: E402
from guardrails.gate import PolicyGate, RegoGate  # noqa: E402
from guardrails.opa import OpaGate  # noqa: E402
from guardrails.recording import RecordingGate  # noqa: E402
from tools.sim import SimulatedBackend  # noqa: E402

SCENARIO_DIRS = (REPO / "evals" / "scenarios", REPO.parent / "shared" / "scenarios" / "public")


def scenarios() -> list:
    found = {}
    for directory in SCENARIO_DIRS:
        for path in sorted(directory.rglob("*.yaml")) if directory.is_dir() else []:
            scenario = load_scenario(path)
            found.setdefault(scenario.id, scenario)
    return list(found.values())


async def collect_inputs() -> list[dict[str, Any]]:
    """Every input the gate was asked to decide while the scenarios ran (held actions approved, to gate those too)."""
    recorder = RecordingGate(RegoGate())
    with tempfile.TemporaryDirectory(prefix="recourse-bench-gate-") as tmp:
        for scenario in scenarios():
            backend = SimulatedBackend(scenario.world, scenario.faults)
            async with open_case_service(backend, Path(tmp) / scenario.id, sleep=backend.sleep, gate=recorder) as service:
                case_id = (await service.submit(scenario.event)).case_id
                if (await service.run(case_id)).get("outcome") == "awaiting_approval":
                    await service.answer_approval(case_id, "approve", by="bench")
    return recorder.inputs


def opa_binary() -> str:
    if os.environ.get("RECOURSE_OPA_BIN"):
        return os.environ["RECOURSE_OPA_BIN"]
    pin = re.search(r"OPA_VERSION:-(v[0-9.]+)", (REPO / ".ci" / "opa.sh").read_text())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    binary = cache / "recourse" / f"opa-{pin.group(1)}" / "opa"
    if not binary.is_file():
        sys.exit(f"no OPA binary at {binary}: run `bash .ci/opa.sh` or set RECOURSE_OPA_BIN / pass --opa-url")
    return str(binary)


@contextmanager
def opa_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Decision logging on, as in production (it is what gives each decision its id); to /dev/null here.
    process = subprocess.Popen([opa_binary(), "run", "--server", "--disable-telemetry", "--addr", f"127.0.0.1:{port}",
                                "--set", "decision_logs.console=true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(500):
            try:
                if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.02)
        yield url
    finally:
        process.terminate()
        process.wait(5)


def timings_ms(gates: list[PolicyGate], inputs: list[dict[str, Any]], rounds: int) -> list[list[float]]:
    """Per-decision milliseconds for each gate; the gates take turns round by round, so load on the machine
    falls on both alike."""
    for gate in gates:  # warm-up: connections, caches
        for policy_input in inputs:
            gate.decide(policy_input)
    samples: list[list[float]] = [[] for _ in gates]
    for _ in range(rounds):
        for gate, taken in zip(gates, samples):
            for policy_input in inputs:
                started = time.perf_counter_ns()
                gate.decide(policy_input)
                taken.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000, method="inclusive")[int(q * 10) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the collected inputs per engine")
    parser.add_argument("--opa-url", default=os.environ.get("RECOURSE_OPA_URL"))
    args = parser.parse_args()

    inputs = asyncio.run(collect_inputs())
    with opa_server(args.opa_url) as url:
        opa = OpaGate(url)
        rego = RegoGate()
        differ = sum(rego.decide(i).model_dump(exclude={"engine", "decision_id"}) != opa.decide(i).model_dump(
            exclude={"engine", "decision_id"}) for i in inputs)
        in_process, loopback = timings_ms([rego, opa], inputs, args.rounds)
        rows = [("regopy, in-process (prepared bundle)", in_process), (f"OPA server over loopback ({url})", loopback)]
        opa.close()

    print(f"{len(inputs)} gate inputs from {len(scenarios())} scenarios, {args.rounds} rounds each; "
          f"decisions differing between engines: {differ}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'engine':<48} {'decisions':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, samples in rows:
        print(f"{name:<48} {len(samples):>9} {percentile(samples, 50):>8.3f} {percentile(samples, 99):>8.3f} "
              f"{max(samples):>8.3f}")
    p99 = percentile(rows[0][1], 99)
    print(f"goal in-process p99 <= 1 ms: {'met' if p99 <= 1 else 'NOT met'} ({p99:.3f} ms)")


if __name__ == "__main__":
    main()
