"""Keeps the simulator's system of record on disk, so a served simulator survives a restart (or kill -9)
like a real TMS would.

The starting world is written once; every action call then appends one line to a journal (the call
count, and the effect if one was applied). Reopening replays the journal onto the starting world, so
the cost per action stays constant however large the world is.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tools.domain import Window, World
from tools.sim.backend import SimulatedBackend
from tools.sim.faults import Fault, FaultRate


class PersistentSimulatedBackend(SimulatedBackend):
    def __init__(self, world: World, faults: list[Fault] | None, directory: Path, fault_rate: FaultRate | None = None):
        super().__init__(world, faults, fault_rate)
        self.directory = directory
        self._journal = None

    @property
    def _start_file(self) -> Path:
        return self.directory / "sim-world.json"

    @property
    def _journal_file(self) -> Path:
        return self.directory / "sim-journal.jsonl"

    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (directory / "sim-world.json").exists()

    @classmethod
    def open(cls, directory: Path, world: World | None = None, faults: list[Fault] | None = None,
             fault_rate: FaultRate | None = None) -> "PersistentSimulatedBackend":
        """Resume the simulator kept in `directory`, or start one there from `world`. `fault_rate` is a
        setting of this run, not part of the saved state."""
        directory.mkdir(parents=True, exist_ok=True)
        if cls.exists(directory):
            start = json.loads((directory / "sim-world.json").read_text())
            sim = cls(World.model_validate(start["world"]), [Fault.model_validate(f) for f in start["faults"]], directory,
                      fault_rate)
            sim._replay()
        elif world is None:
            raise FileNotFoundError(f"no simulator state in {directory} and no world to start from")
        else:
            sim = cls(world, faults, directory, fault_rate)
            sim._write_start()
        sim._journal = sim._journal_file.open("a")
        return sim

    def reset(self, world: World, faults: list[Fault] | None) -> None:
        """Replace the whole system of record (simulator control for eval harnesses)."""
        fresh = SimulatedBackend(world, faults, self.fault_rate)
        journal, self._journal = self._journal, None
        if journal:
            journal.close()
        self.__dict__.update(fresh.__dict__)
        self._write_start()
        self._journal = self._journal_file.open("a")

    def _write_start(self) -> None:
        start = {"world": self.world().model_dump(mode="json"), "faults": [f.model_dump(mode="json") for f in self.faults]}
        tmp = self._start_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(start))
        self._journal_file.write_text("")
        os.replace(tmp, self._start_file)

    def _replay(self) -> None:
        calls: dict[str, int] = {}
        effects: list[dict[str, Any]] = []
        faults, self.faults = self.faults, []
        fault_rate, self.fault_rate = self.fault_rate, None  # replay re-applies recorded effects; nothing fails
        raw = self._journal_file.read_bytes() if self._journal_file.exists() else b""
        valid = 0
        for line in raw.splitlines(keepends=True):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break  # a torn last line from a crash mid-write: that call's reply was never seen either
            valid += len(line)
            calls[entry["tool"]] = entry["call"]
            if "effect" in entry:
                _run_to_completion(self._reapply(entry["effect"]))
                effects.append(entry["effect"])
        if valid < len(raw):
            with self._journal_file.open("r+b") as journal:
                journal.truncate(valid)
        self.faults, self.fault_rate, self.calls, self.effects = faults, fault_rate, calls, effects

    async def _reapply(self, effect: dict[str, Any]) -> None:
        args, key = dict(effect["args"]), effect["idempotency_key"]
        if effect["tool"] == "reschedule_pickup":
            args["window"] = Window.model_validate(args["window"])
        await getattr(SimulatedBackend, effect["tool"])(self, **args, idempotency_key=key)

    async def _act(self, tool, key, args, apply):
        before = len(self.effects)
        try:
            return await super()._act(tool, key, args, apply)
        finally:
            if self._journal is not None:
                entry: dict[str, Any] = {"tool": tool, "call": self.calls[tool]}
                if len(self.effects) > before:
                    entry["effect"] = self.effects[-1]
                self._journal.write(json.dumps(entry) + "\n")
                self._journal.flush()


def _run_to_completion(coroutine) -> Any:
    """Drive a coroutine that never suspends (the simulator's actions await nothing real), even inside a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("simulator replay suspended unexpectedly")
