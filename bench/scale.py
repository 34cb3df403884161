"""Completed cases/s with 1, 2 and 4 `recourse worker` processes on PostgreSQL, and with the default
single SQLite process, in one run; prints the ratios.

    RECOURSE_TEST_DATABASE_URL=$(bash .ci/postgres.sh) python bench/scale.py [--cases 400]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api_load import submit_all, wait_all  # noqa: E402
from evals.fleet import fleet_scenario  # noqa: E402
from tests.api.server import Server, SimServer, Worker, create_key  # noqa: E402


def fresh_database(base: str) -> str:
    import psycopg

    name = f"scale_{uuid.uuid4().hex[:8]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + f"/{name}"


async def measure(cases: int, workers: int | None, database: str | None) -> float:
    """workers None: the single SQLite process (API with 4 in-process workers, in-process simulator)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = data / "fleet.yaml"
        world.write_text(yaml.safe_dump(fleet_scenario(cases)))
        env = {"database_url": database} if database else {}
        submitter = create_key(data, "submitter", **env)
        dispatcher = create_key(data, "dispatcher", **env)
        processes = []
        try:
            if workers is None:
                api = Server(data, world=world, workers=4, queue_size=cases + 1).start()
                processes.append(api)
            else:
                sim = SimServer(data / "sim", world).start()
                api = Server(data, ops_url=sim.url, workers=0, queue_size=cases + 1, **env).start()
                processes += [sim, api] + [Worker(data, sim.url, workers=4, **env).start() for _ in range(workers)]
            started = time.perf_counter()
            _, case_ids, _ = await submit_all(api.url, submitter, cases, 16)
            statuses = await wait_all(api.url, dispatcher, case_ids, timeout=600)
            elapsed = time.perf_counter() - started
        finally:
            for process in reversed(processes):
                process.stop()
    done = sum(statuses[s] for s in ("resolved", "escalated", "awaiting_approval", "failed"))
    return done / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=400)
    args = parser.parse_args()
    base = os.environ.get("RECOURSE_TEST_DATABASE_URL")
    if not base:
        sys.exit("set RECOURSE_TEST_DATABASE_URL (bash .ci/postgres.sh prints one)")
    sqlite = await measure(args.cases, None, None)
    print(f"SQLite, single process (4 in-process workers): {sqlite:6.1f} cases/s")
    results = {}
    for n in (1, 2, 4):
        results[n] = await measure(args.cases, n, fresh_database(base))
        print(f"PostgreSQL, {n} worker process(es) x 4       : {results[n]:6.1f} cases/s  "
              f"(x{results[n] / results[1]:.2f} of 1 worker, x{results[n] / sqlite:.2f} of SQLite)")


if __name__ == "__main__":
    asyncio.run(main())
