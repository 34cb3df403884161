"""Keeps the simulator's system of record on disk, so a served simulator survives a restart (or kill -9)
like a real TMS would: the world, the effect log, the receipts of idempotency keys and the call counts."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tools.backend import Receipt
from tools.domain import World
from tools.sim.backend import SimulatedBackend
from tools.sim.faults import Fault


class PersistentSimulatedBackend(SimulatedBackend):
    """Writes its whole state atomically (temp file + rename) after every action call."""

    def __init__(self, world: World, faults: list[Fault] | None, path: Path):
        super().__init__(world, faults)
        self.path = path

    @classmethod
    def open(cls, path: Path, world: World | None = None, faults: list[Fault] | None = None) -> "PersistentSimulatedBackend":
        """Resume the state at `path` if it exists; otherwise start from `world`."""
        if path.exists():
            saved = json.loads(path.read_text())
            sim = cls(World.model_validate(saved["world"]), [Fault.model_validate(f) for f in saved["faults"]], path)
            sim.calls, sim.effects = saved["calls"], saved["effects"]
            sim.notifications, sim.credits = saved["notifications"], saved["credits"]
            sim._receipts = {k: Receipt.model_validate(v) for k, v in saved["receipts"].items()}
            return sim
        if world is None:
            raise FileNotFoundError(f"no simulator state at {path} and no world to start from")
        sim = cls(world, faults, path)
        sim.save()
        return sim

    def reset(self, world: World, faults: list[Fault] | None) -> None:
        fresh = SimulatedBackend(world, faults)
        self.__dict__.update({k: v for k, v in fresh.__dict__.items()})
        self.save()

    def save(self) -> None:
        state: dict[str, Any] = {
            "world": self.world().model_dump(mode="json"),
            "faults": [f.model_dump(mode="json") for f in self.faults],
            "calls": self.calls, "effects": self.effects, "notifications": self.notifications, "credits": self.credits,
            "receipts": {k: r.model_dump(mode="json") for k, r in self._receipts.items()},
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)

    async def _act(self, tool, key, args, apply):
        try:
            return await super()._act(tool, key, args, apply)
        finally:
            self.save()
