"""Fault injection for the simulated backend, as scenario files describe it."""
from __future__ import annotations

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
