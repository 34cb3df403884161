"""Checkpoint database bytes per case, before and after pruning finished cases.

    python bench/checkpoint_growth.py [--cases 300]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.models import Event  # noqa: E402
from evals.fleet import fleet_event, fleet_world  # noqa: E402
from graph.cases import open_case_service  # noqa: E402
from graph.checkpoint import compact  # noqa: E402
from tools.domain import World  # noqa: E402
from tools.sim import SimulatedBackend  # noqa: E402


def size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("checkpoints.db*"))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        backend = SimulatedBackend(World.model_validate(fleet_world(args.cases, tiers=("standard", "strategic"))))
        async with open_case_service(backend, data, sleep=backend.sleep) as service:
            for i in range(args.cases):
                await service.run((await service.submit(Event.model_validate(fleet_event(i)))).case_id)
            grown = size(data)
            pruned = await service.prune_finished()
        await compact(str(data / "checkpoints.db"))
        after = size(data)
    print(f"cases                         : {args.cases} ({pruned} finished and pruned; {args.cases - pruned} wait for approval)")
    print(f"checkpoint bytes per case      : {grown / args.cases:10,.0f}  (total {grown:,})")
    print(f"after prune + VACUUM, per case : {after / args.cases:10,.0f}  (total {after:,})")


if __name__ == "__main__":
    asyncio.run(main())
