"""Fault injection for the simulated backend, as scenario files describe it."""
from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import OpsConflict, OpsError, OpsTimeout, OpsUnavailable

ACTION_TOOLS = ("reassign_driver", "reschedule_pickup", "notify_customer", "issue_credit", "cancel_pickup")


class FaultError(StrEnum):
    timeout = "timeout"
    unavailable = "unavailable"
    conflict = "conflict"


class Fault(BaseModel):
    """The `call`-th call of `tool` fails with `error`; `applied` means the effect happened but the reply was lost."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    call: int = Field(ge=1)
    error: FaultError
    applied: bool = False

    def model_post_init(self, __context) -> None:
        if self.tool not in ACTION_TOOLS:
            raise ValueError(f"fault tool {self.tool!r} is not one of {', '.join(ACTION_TOOLS)}")

    def exception(self) -> OpsError:
        kind = {FaultError.timeout: OpsTimeout, FaultError.unavailable: OpsUnavailable,
                FaultError.conflict: OpsConflict}[self.error]
        return kind(self.tool, f"injected on call {self.call}")


class FaultRate(BaseModel):
    """Seeded random faults: each action call fails with probability `rate`, as a timeout or as unavailable
    (even odds); a timeout has taken effect first (`applied`, reply lost) with probability `applied_share`.

    Each call's fate is a hash of (seed, idempotency key, how many times that key was called), so it does
    not depend on how concurrent cases interleave: the same seed and the same cases give the same faults."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0, le=1)
    seed: int = 0
    applied_share: float = Field(0.5, ge=0, le=1)

    def draw(self, tool: str, key: str, attempt: int) -> Fault | None:
        """The fault (if any) of the `attempt`-th call with idempotency key `key`."""
        digest = hashlib.sha256(f"{self.seed}:{key}:{attempt}".encode()).digest()
        fails, kind, applied = (int.from_bytes(digest[i:i + 4], "big") / 2**32 for i in (0, 4, 8))
        if fails >= self.rate:
            return None
        error = FaultError.timeout if kind < 0.5 else FaultError.unavailable
        return Fault(tool=tool, call=attempt, error=error, applied=error == FaultError.timeout and applied < self.applied_share)
